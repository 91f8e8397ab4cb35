"""One OTLP request body -> an insert-ready Native block: decompress, decode, encode.

This is all the CPU work of a request, and it needs no connection, so it can run where it does
not compete with the server for the interpreter lock: in a decode worker process
(`ingest.decode_workers`), or in a thread of the server when those are turned off. What comes
back is small and cheap to pass between processes: the encoded block plus the counts OTLP's
``partial_success`` needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ingest.content_encoding import decompress
from ingest.otlp_decode import DECODERS, LOG_COLUMNS, LOGS_TABLE, TRACE_COLUMNS, TRACES_TABLE
from warehouse.native import NativeBlock, NativeEncoder

# The columns the decoders fill, per table (the rest take their defaults).
DECODED_COLUMNS: dict[str, tuple[str, ...]] = {
    TRACES_TABLE: TRACE_COLUMNS,
    LOGS_TABLE: LOG_COLUMNS,
}
SIGNAL_TABLES = {"traces": TRACES_TABLE, "logs": LOGS_TABLE}


@dataclass(frozen=True)
class DecodedBody:
    """A request's accepted rows, encoded for ``table``, and what was rejected and why."""

    table: str
    block: NativeBlock
    rejected: int
    error_message: str

    @property
    def rows(self) -> int:
        """Rows accepted."""
        return self.block.rows


def decode_body(
    signal: str,
    fmt: str,
    content_encoding: str | None,
    raw: bytes,
    max_bytes: int,
    encoders: Mapping[str, NativeEncoder],
) -> DecodedBody:
    """Decompress (at most ``max_bytes``), decode (``fmt``: protobuf or json) and encode.

    Raises `InputError` (400), `PayloadTooLarge` (413) or `UnsupportedMediaType` (415) for a
    body that cannot be taken at all; items rejected one by one are counted instead.
    """
    body = decompress(raw, content_encoding, max_bytes)
    batch = DECODERS[(signal, fmt)](body)
    block = encoders[batch.table].encode(batch.columns)
    return DecodedBody(batch.table, block, batch.rejected, batch.error_message)
