"""Where the OTLP receiver decodes request bodies: worker processes (the default) or threads.

Why processes: decoding a span (protobuf walk, attribute strings) and encoding it for the insert
(clickhouse-connect's Native serialisation) are Python work, about 13 µs per span, and in one
process they take turns with everything else under the interpreter lock, including the writer
thread that feeds the engine. In worker processes they run beside the server: the server only
reads bodies, hands them over, and passes the encoded blocks to the engine, whose work runs
without the lock. See docs/ingest-otlp.md for the measured difference.

Lifecycle: `OtlpDecoders` is created with the server, and its processes start on the first
request (a server that receives no OTLP starts none). It stops after the HTTP servers have
drained their requests (so those still decode) and before the writer flushes.

Workers are spawned, not forked (the server process runs the engine's threads). They ignore
SIGINT and SIGTERM, which a terminal or service manager sends to the whole process group: the
server stops them itself once its in-flight requests are done. They exit on their own when the
server process dies (they watch its sentinel), so a killed server leaves no orphans. A worker that
dies (killed, out of memory) breaks its pool: the requests in it get 503 with Retry-After (OTLP
clients retry them) and the next request starts a fresh pool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from anyio import CapacityLimiter, to_thread

from errors import AndonError, WarehouseError
from ingest.config import IngestSettings
from ingest.otlp_payload import DECODED_COLUMNS, SIGNAL_TABLES, DecodedBody, decode_body
from warehouse import Warehouse
from warehouse.native import NativeEncoder

log = logging.getLogger(__name__)

ColumnTypes = dict[str, str]


class DecoderUnavailable(AndonError):
    """The decode workers cannot take the request now (one died, or the server is stopping)."""

    http_status = 503

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


# -- inside a worker process -----------------------------------------------------------------

# (table, its column types) -> encoder: built once per worker, rebuilt if the table changes.
_WORKER_ENCODERS: dict[tuple[str, tuple[tuple[str, str], ...]], NativeEncoder] = {}


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with_parent,
            args=(parent.sentinel,),
            name="andon-parent-watch",
            daemon=True,
        ).start()


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _decode_in_worker(
    signal_name: str,
    fmt: str,
    content_encoding: str | None,
    raw: bytes,
    max_bytes: int,
    types: ColumnTypes,
) -> DecodedBody:
    table = SIGNAL_TABLES[signal_name]
    key = (table, tuple(types.items()))
    encoder = _WORKER_ENCODERS.get(key)
    if encoder is None:
        encoder = _WORKER_ENCODERS[key] = NativeEncoder(table, types)
    return decode_body(signal_name, fmt, content_encoding, raw, max_bytes, {table: encoder})


# -- in the server ---------------------------------------------------------------------------


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 2


def column_types(warehouse: Warehouse, table: str) -> ColumnTypes:
    """``{column: type}`` of a telemetry table, for the columns the decoders fill."""
    existing = warehouse.columns(table)
    wanted = DECODED_COLUMNS[table]
    missing = [name for name in wanted if name not in existing]
    if missing:
        what = "no table" if not existing else f"no column {missing[0]!r} in"
        raise WarehouseError(f"the warehouse has {what} {table}: run `andon migrate`")
    return {name: existing[name] for name in wanted}


class OtlpDecoders:
    """Runs `decode_body` for the receiver, ``ingest.decode_workers`` bodies at a time."""

    def __init__(self, warehouse: Warehouse, settings: IngestSettings) -> None:
        self.warehouse = warehouse
        self.settings = settings
        self.workers = settings.decode_workers or usable_cores()
        self.in_processes = settings.decode_processes
        self._lock = threading.Lock()
        # Per table: read on its first request, forgotten when an insert into it fails.
        self._types: dict[str, ColumnTypes] = {}
        self._encoders: dict[str, NativeEncoder] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._stopped = False
        # Threads mode: decoding holds the interpreter lock, so more threads than cores would
        # only slow the writer down; bodies wait their turn instead.
        self._limiter = CapacityLimiter(self.workers)

    async def decode(
        self, signal_name: str, fmt: str, content_encoding: str | None, raw: bytes
    ) -> DecodedBody:
        """Decode one request body (see `otlp_payload.decode_body` for what it raises)."""
        table = SIGNAL_TABLES[signal_name]
        types = self._types.get(table)
        if types is None:
            types = await to_thread.run_sync(self._load_types, table)
        max_bytes = self.settings.max_body_bytes
        if not self.in_processes:
            return await to_thread.run_sync(
                decode_body,
                signal_name,
                fmt,
                content_encoding,
                raw,
                max_bytes,
                self._encoders,
                limiter=self._limiter,
            )
        pool = self._running_pool()
        try:
            future = pool.submit(
                _decode_in_worker, signal_name, fmt, content_encoding, raw, max_bytes, types
            )
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._discard(pool)
            log.warning("an OTLP decode worker died; starting a new pool: %s", exc)
            raise DecoderUnavailable("a decode worker stopped unexpectedly; retry") from exc
        except RuntimeError as exc:  # submit after shutdown: the server is stopping
            if not self._stopped:
                raise
            raise DecoderUnavailable("the server is stopping; retry later", 5) from exc

    def _load_types(self, table: str) -> ColumnTypes:
        types = column_types(self.warehouse, table)
        with self._lock:
            self._encoders[table] = NativeEncoder(table, types)
            self._types[table] = types
        return types

    def forget(self, table: str) -> None:
        """Read ``table``'s column types again on its next request (an insert into it failed:
        it may have been dropped or changed)."""
        with self._lock:
            self._types.pop(table, None)
            self._encoders.pop(table, None)

    def _running_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._stopped:
                raise DecoderUnavailable("the server is stopping; retry later", 5)
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                )
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        """Stop the worker processes once what they were given is decoded. Idempotent."""
        with self._lock:
            self._stopped = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def pids(self) -> list[int]:
        """Process ids of the running workers (for tests and `/healthz`)."""
        with self._lock:
            pool = self._pool
        processes: Mapping[int, multiprocessing.process.BaseProcess] = (
            getattr(pool, "_processes", None) or {}
        )
        return sorted(processes)
