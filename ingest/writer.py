"""The batching writer: rows from many concurrent requests become few large inserts.

Every endpoint that stores telemetry-sized volumes hands its decoded rows to the one
`BatchWriter` of the process and waits on the returned future; the future resolves only after
the insert holding those rows has committed, so a request is acknowledged only once its data is
durable. One writer thread gathers what arrived, concatenates it per table and inserts it, up to
``batch_max_rows`` per insert. Submissions are column lists, or Native blocks already encoded
where the request was decoded (`warehouse.native`; the OTLP receiver's path), which leaves the
writer only the engine's work.

Why batch: each insert into a MergeTree table costs tens of milliseconds of fixed work (a new
part, its indexes, the materialized views), so a thousand small requests must not become a
thousand inserts. Because a request is acknowledged only after its insert, a batch can only
hold what is in flight; so the writer holds a batch open while requests it knows are coming
(`expecting`: bodies being decoded) have not arrived yet, at most ``batch_max_delay_ms``.
With no request on its way, it inserts at once: a lone request is never delayed.

Backpressure: the rows waiting or being inserted are bounded by ``queue_max_rows``; a submit
that would go over raises `Backpressure` (HTTP 429 with Retry-After) instead of growing memory.
A failed insert is retried request by request (so one bad submission fails alone); what still
fails gets the `WarehouseError` on its future (HTTP 503 with Retry-After), and senders retry. `stop` stops accepting, then flushes what was accepted.

Usage::

    writer = BatchWriter(warehouse, settings.ingest)
    writer.start()
    future = writer.submit("otel_traces", {"TraceId": [...], "SpanId": [...], ...})
    future.result()  # rows written, once committed; raises if the insert failed
    writer.stop()    # flushes
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from errors import AndonError, InputError, WarehouseError
from ingest.config import IngestSettings
from warehouse import Warehouse
from warehouse.native import NativeBlock

log = logging.getLogger(__name__)

Columns = Mapping[str, Sequence[Any]]


class Backpressure(AndonError):
    """The write queue is full: the sender should retry after ``retry_after_s`` seconds."""

    http_status = 429

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WriterUnavailable(WarehouseError):
    """The writer is not accepting data (stopping, or the warehouse keeps failing)."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Pending:
    table: str
    data: dict[str, list[Any]] | NativeBlock
    rows: int
    future: Future[int]

    @property
    def shape(self) -> tuple[bool, tuple[str, ...]]:
        """Pending items with the same table and shape (kind and columns) share one insert."""
        if isinstance(self.data, NativeBlock):
            return True, self.data.column_names
        return False, tuple(self.data)


@dataclass
class WriterStats:
    """Counters of what the writer did (for `/healthz`, logs and the benchmark)."""

    submitted_requests: int = 0
    inserted_rows: int = 0
    inserts: int = 0
    failed_inserts: int = 0
    rejected_backpressure: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    # Where the writer thread's time goes: inserting (the engine, and building its payload),
    # or waiting (for rows, or for submissions it knows are on their way).
    insert_seconds: float = 0.0
    wait_seconds: float = 0.0


def _row_count(data: dict[str, list[Any]] | NativeBlock) -> int:
    if isinstance(data, NativeBlock):
        return data.rows
    lengths = {len(values) for values in data.values()}
    if len(lengths) > 1:
        raise InputError(f"columns of different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


class BatchWriter:
    """Gathers rows submitted from any thread into large per-table inserts (see module doc)."""

    def __init__(self, warehouse: Warehouse, settings: IngestSettings) -> None:
        self.warehouse = warehouse
        self.settings = settings
        self.stats = WriterStats()
        self._cond = threading.Condition()
        self._waiting: deque[_Pending] = deque()
        self._waiting_rows = 0
        self._inflight_rows = 0
        self._expected = 0
        self._accepting = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread; `submit` is accepted from then on."""
        with self._cond:
            if self._thread is not None:
                return
            self._accepting = True
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="andon-writer", daemon=True)
            self._thread.start()

    def stop(self, flush: bool = True, timeout: float | None = None) -> None:
        """Stop accepting; with ``flush`` insert everything accepted so far, else fail it.

        Returns once the writer thread has finished (or ``timeout`` seconds have passed).
        """
        with self._cond:
            self._accepting = False
            self._stopping = True
            dropped: list[_Pending] = []
            if not flush:
                dropped = list(self._waiting)
                self._waiting.clear()
                self._waiting_rows = 0
            self._cond.notify_all()
            thread = self._thread
        for item in dropped:
            item.future.set_exception(WriterUnavailable("the server is stopping; retry later"))
        if thread is not None:
            thread.join(timeout)
            if not thread.is_alive():
                self._thread = None

    @property
    def running(self) -> bool:
        """Whether the writer accepts submissions."""
        return self._accepting

    @property
    def queued_rows(self) -> int:
        """Rows accepted and not yet committed."""
        with self._cond:
            return self._waiting_rows + self._inflight_rows

    # -- submission --------------------------------------------------------------------------

    def submit(self, table: str, data: Columns | NativeBlock) -> Future[int]:
        """Queue rows for ``table`` (a column-name -> values mapping, or a Native block).

        Returns a future that resolves to the number of rows written once the insert holding
        them has committed, or raises the `WarehouseError` that made it fail. Raises
        `Backpressure` at once when the queue is full, `WriterUnavailable` when stopped.
        Column names are the table's (``Events.Timestamp`` for nested columns); omitted columns
        get their defaults. An empty submission resolves at once.
        """
        columns = (
            data
            if isinstance(data, NativeBlock)
            else {k: v if isinstance(v, list) else list(v) for k, v in data.items()}
        )
        rows = _row_count(columns)
        future: Future[int] = Future()
        if rows == 0:
            future.set_result(0)
            return future
        with self._cond:
            if not self._accepting:
                raise WriterUnavailable("the server is not accepting data now; retry later")
            queued = self._waiting_rows + self._inflight_rows
            # A request larger than the whole queue is still taken when nothing else waits.
            if queued and queued + rows > self.settings.queue_max_rows:
                self.stats.rejected_backpressure += 1
                raise Backpressure(
                    f"write queue full ({queued:,} rows waiting, limit "
                    f"{self.settings.queue_max_rows:,}); retry later"
                )
            self._waiting.append(_Pending(table, columns, rows, future))
            self._waiting_rows += rows
            self.stats.submitted_requests += 1
            self._cond.notify_all()
        return future

    # -- the writer thread -------------------------------------------------------------------

    @contextmanager
    def expecting(self) -> Iterator[None]:
        """Mark a submission as on its way (its request is being decoded).

        While any are, the writer holds a batch open for them (up to ``batch_max_delay_ms``):
        concurrent requests then share one insert instead of each paying for its own, and a
        lone request is never delayed. Wrap the decode-and-submit of one request in it.
        """
        with self._cond:
            self._expected += 1
        try:
            yield
        finally:
            with self._cond:
                self._expected -= 1
                self._cond.notify_all()

    def _take_batch(self) -> list[_Pending] | None:
        """Wait for work, hold it open for expected submissions, take <= batch_max_rows."""
        max_rows = self.settings.batch_max_rows
        with self._cond:
            while not self._waiting:
                if self._stopping:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + self.settings.batch_max_delay_ms / 1000
            while self._expected and self._waiting_rows < max_rows and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch: list[_Pending] = []
            taken = 0
            while self._waiting and (not batch or taken + self._waiting[0].rows <= max_rows):
                item = self._waiting.popleft()
                batch.append(item)
                taken += item.rows
            self._waiting_rows -= taken
            self._inflight_rows += taken
            return batch

    def _run(self) -> None:
        clock = time.perf_counter
        while True:
            waited = clock()
            batch = self._take_batch()
            started = clock()
            self.stats.wait_seconds += started - waited
            if batch is None:
                return
            try:
                self._write(batch)
            finally:
                self.stats.insert_seconds += clock() - started
                with self._cond:
                    self._inflight_rows -= sum(item.rows for item in batch)

    def _write(self, batch: list[_Pending]) -> None:
        groups: dict[tuple[str, tuple[bool, tuple[str, ...]]], list[_Pending]] = {}
        for item in batch:
            groups.setdefault((item.table, item.shape), []).append(item)
        for (table, _), items in groups.items():
            self._insert_group(table, items)

    def _insert_group(self, table: str, items: list[_Pending]) -> None:
        try:
            written = self._insert(table, items)
        except Exception as exc:
            if len(items) > 1:
                # One bad submission must not fail the others sharing its insert: retry each
                # alone (when the engine itself is down, each fails fast the same way).
                log.warning(
                    "insert of %d requests into %s failed, retrying one by one: %s",
                    len(items),
                    table,
                    exc,
                )
                for item in items:
                    self._insert_group(table, [item])
                return
            self.stats.failed_inserts += 1
            if not isinstance(exc, WarehouseError):
                log.exception("insert into %s failed", table)
            items[0].future.set_exception(exc)
            return
        self.stats.inserts += 1
        self.stats.inserted_rows += written
        self.stats.rows_by_table[table] = self.stats.rows_by_table.get(table, 0) + written
        for item in items:
            item.future.set_result(item.rows)

    def _insert(self, table: str, items: list[_Pending]) -> int:
        first = items[0].data
        if isinstance(first, NativeBlock):
            blocks = [item.data for item in items if isinstance(item.data, NativeBlock)]
            return self.warehouse.insert_native(table, blocks)
        names = list(first)
        if len(items) == 1:
            merged = [first[name] for name in names]
        else:
            merged = [[] for _ in names]
            for item in items:
                assert not isinstance(item.data, NativeBlock)
                for target, name in zip(merged, names, strict=True):
                    target.extend(item.data[name])
        return self.warehouse.insert_columns(table, merged, names)
