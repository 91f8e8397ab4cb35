"""Column lists -> ClickHouse Native-format blocks, built without a connection.

Why: building an insert's payload is Python work under the interpreter lock (clickhouse-connect's
Native serialisation), while the engine's part of an insert runs without it. Encoding a block
where the data is decoded (the OTLP decode worker processes) leaves the process that owns the
warehouse only the engine's work: `Warehouse.insert_native` concatenates blocks (Native is a
stream of self-describing blocks, so blocks of many requests make one insert) and hands them over.

The encoding is clickhouse-connect's own, so the bytes are exactly what ``insert`` would send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform


@dataclass(frozen=True)
class NativeBlock:
    """One encoded block: its column names (in order), row count and Native bytes."""

    column_names: tuple[str, ...]
    rows: int
    payload: bytes


class NativeEncoder:
    """Encodes column lists for one table whose column types are known (``name -> type``,
    as `Warehouse.columns` returns them: the table's real types, so nothing is converted)."""

    def __init__(self, table: str, column_types: Mapping[str, str]) -> None:
        self.table = table
        self._types = {name: get_from_name(type_name) for name, type_name in column_types.items()}

    def encode(self, columns: Mapping[str, Sequence[Any]]) -> NativeBlock:
        """One Native block holding every row of ``columns`` (column name -> values)."""
        names = tuple(columns)
        missing = [name for name in names if name not in self._types]
        if missing:
            raise KeyError(f"{self.table} has no column {missing[0]!r}")
        data = [columns[name] for name in names]
        rows = len(data[0]) if data else 0
        if rows == 0:
            return NativeBlock(names, 0, b"")
        context = InsertContext(
            self.table,
            names,
            [self._types[name] for name in names],
            data,
            column_oriented=True,
            block_size=rows,  # one block: the writer concatenates blocks, not rows
        )
        encoded = b"".join(NativeTransform.build_insert(context))
        if context.insert_exception is not None:
            raise context.insert_exception
        # The first chunk starts with the HTTP form's "INSERT ... FORMAT Native\n" statement.
        return NativeBlock(names, rows, encoded[encoded.index(b"\n") + 1 :])
