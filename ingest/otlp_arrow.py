"""Decoded OTLP columns -> an Arrow table, so the insert's payload is built by the decoders.

Why: on a 2-core machine the single writer thread is the ingest bottleneck, and the Python part
of an insert (clickhouse-connect's Native serialisation of column lists) holds the GIL while
decoder threads want it too. Converting each request's columns to Arrow in its decode thread
moves that work off the writer: the writer only concatenates the tables (zero-copy) and hands
them to the engine (`Warehouse.insert_arrow`), which runs without the GIL. The stored rows are
identical (the same strings, the same nanosecond ticks).

Map columns are flattened with C-level iterators (`itertools.chain`) and built with
`pa.MapArray.from_arrays`, which is several times cheaper than letting pyarrow walk the dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import accumulate, chain
from typing import Any

import pyarrow as pa

_MAP = pa.map_(pa.string(), pa.string())
_TS = pa.timestamp("ns")

# Arrow types of the otel_traces columns the decoder produces (others are plain strings).
TRACE_ARROW_TYPES: dict[str, pa.DataType] = {
    "Timestamp": _TS,
    "Duration": pa.uint64(),
    "ResourceAttributes": _MAP,
    "SpanAttributes": _MAP,
    "Events.Timestamp": pa.list_(_TS),
    "Events.Name": pa.list_(pa.string()),
    "Events.Attributes": pa.list_(_MAP),
    "Links.TraceId": pa.list_(pa.string()),
    "Links.SpanId": pa.list_(pa.string()),
    "Links.TraceState": pa.list_(pa.string()),
    "Links.Attributes": pa.list_(_MAP),
}


def map_array(maps: Sequence[Mapping[str, str]]) -> pa.Array:
    """A list of ``{str: str}`` dicts as an Arrow ``map<string, string>`` array."""
    offsets = pa.array(accumulate(map(len, maps), initial=0), type=pa.int32())
    keys = pa.array(list(chain.from_iterable(maps)), type=pa.string())
    values = pa.array(list(chain.from_iterable(m.values() for m in maps)), type=pa.string())
    return pa.MapArray.from_arrays(offsets, keys, values)


def columns_to_arrow(
    columns: Mapping[str, Sequence[Any]], types: Mapping[str, pa.DataType]
) -> pa.Table:
    """Column lists -> an Arrow table with the given types (plain strings for the rest)."""
    arrays = []
    for name, values in columns.items():
        kind = types.get(name, pa.string())
        if kind == _MAP:
            arrays.append(map_array(values))
        elif kind == _TS:
            # pyarrow converts Python ints to timestamps slowly; int64 then a view is the same
            # nanosecond ticks for a fraction of the cost.
            arrays.append(pa.array(values, type=pa.int64()).view(_TS))
        else:
            arrays.append(pa.array(values, type=kind))
    return pa.Table.from_arrays(arrays, names=list(columns))
