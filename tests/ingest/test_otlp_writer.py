"""The batching writer: few large inserts, acknowledgement after commit, backpressure, flush."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from errors import WarehouseError
from ingest.config import IngestSettings
from ingest.writer import Backpressure, BatchWriter, WriterUnavailable
from warehouse import Warehouse, open_warehouse
from warehouse.native import NativeEncoder


class CountingWarehouse(Warehouse):
    """The real warehouse, counting inserts and optionally holding them at a gate."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.inserts: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.inserting = threading.Event()

    def insert_columns(self, table: str, columns: Any, column_names: Any) -> int:
        self.inserting.set()
        self.gate.wait(30)
        written = super().insert_columns(table, columns, column_names)
        self.inserts.append(written)
        return written


@pytest.fixture
def counting(warehouse: Warehouse) -> Any:
    wh = CountingWarehouse(warehouse.settings)
    try:
        yield wh
    finally:
        wh.close()


def _logs(n: int, body: str = "hello") -> dict[str, list[Any]]:
    return {
        "Timestamp": [1_700_000_000_000_000_000 + i for i in range(n)],
        "Body": [f"{body} {i}" for i in range(n)],
        "ServiceName": ["svc"] * n,
    }


def _count(wh: Warehouse) -> int:
    return int(wh.scalar(f"SELECT count() FROM {wh.table('otel_logs')}"))


def test_concurrent_submissions_share_inserts_and_resolve_after_commit(counting: Any) -> None:
    writer = BatchWriter(counting, IngestSettings(batch_max_delay_ms=2000))
    writer.start()
    try:
        counting.gate.clear()
        first = writer.submit("otel_logs", _logs(3))
        assert counting.inserting.wait(30)
        # While the first insert runs, more requests arrive; announced ones are waited for.
        with writer.expecting():
            later = [writer.submit("otel_logs", _logs(2, f"r{i}")) for i in range(10)]
        assert not first.done()  # not acknowledged before its insert committed
        counting.gate.set()
        assert first.result(30) == 3
        assert [f.result(30) for f in later] == [2] * 10
    finally:
        writer.stop()
    assert counting.inserts == [3, 20]
    assert _count(counting) == 23


def test_backpressure_when_the_queue_is_full(counting: Any) -> None:
    writer = BatchWriter(counting, IngestSettings(queue_max_rows=5))
    writer.start()
    try:
        counting.gate.clear()
        held = writer.submit("otel_logs", _logs(4))
        assert counting.inserting.wait(30)
        with pytest.raises(Backpressure, match="write queue full") as refused:
            writer.submit("otel_logs", _logs(2))
        assert refused.value.http_status == 429
        assert writer.submit("otel_logs", _logs(1)).done() is False  # 4 + 1 still fits
        counting.gate.set()
        held.result(30)
    finally:
        writer.stop()
    assert _count(counting) == 5
    assert writer.stats.rejected_backpressure == 1


def test_a_request_bigger_than_the_queue_is_taken_when_it_is_alone(warehouse: Warehouse) -> None:
    writer = BatchWriter(warehouse, IngestSettings(queue_max_rows=2))
    writer.start()
    try:
        assert writer.submit("otel_logs", _logs(10)).result(30) == 10
    finally:
        writer.stop()


def test_stop_flushes_what_was_accepted(counting: Any) -> None:
    writer = BatchWriter(counting, IngestSettings())
    writer.start()
    counting.gate.clear()
    futures = [writer.submit("otel_logs", _logs(5))]
    assert counting.inserting.wait(30)
    futures += [writer.submit("otel_logs", _logs(5)) for _ in range(3)]
    stopper = threading.Thread(target=writer.stop)
    stopper.start()
    counting.gate.set()
    stopper.join(30)
    assert [f.result(0) for f in futures] == [5, 5, 5, 5]
    assert _count(counting) == 20
    with pytest.raises(WriterUnavailable):
        writer.submit("otel_logs", _logs(1))


def test_stop_without_flush_fails_what_is_still_waiting(counting: Any) -> None:
    writer = BatchWriter(counting, IngestSettings())
    writer.start()
    counting.gate.clear()
    inserting = writer.submit("otel_logs", _logs(1))
    assert counting.inserting.wait(30)
    waiting = writer.submit("otel_logs", _logs(1))
    stopper = threading.Thread(target=writer.stop, kwargs={"flush": False})
    stopper.start()
    with pytest.raises(WriterUnavailable):
        waiting.result(30)
    counting.gate.set()
    stopper.join(30)
    assert inserting.result(0) == 1


def test_bad_data_fails_only_its_own_request(counting: Any) -> None:
    writer = BatchWriter(counting, IngestSettings(batch_max_delay_ms=1000))
    writer.start()
    try:
        counting.gate.clear()
        blocker = writer.submit("otel_logs", _logs(1))
        assert counting.inserting.wait(30)
        good = writer.submit("otel_logs", _logs(2))
        bad = writer.submit("otel_logs", {**_logs(1), "Timestamp": ["not a time"]})
        counting.gate.set()
        assert blocker.result(30) == 1
        assert good.result(30) == 2
        with pytest.raises(Exception):  # noqa: B017 - the driver's own encoding error
            bad.result(30)
    finally:
        writer.stop()
    assert _count(counting) == 3


def test_warehouse_failure_fails_the_futures_with_warehouse_error(fresh_settings: Any) -> None:
    wh = open_warehouse(fresh_settings.warehouse)  # its own database: this test breaks it
    writer = BatchWriter(wh, IngestSettings())
    try:
        wh.command(f"DROP TABLE {wh.table('otel_logs')}")
        writer.start()
        future: Future[int] = writer.submit("otel_logs", _logs(1))
        with pytest.raises(WarehouseError) as failed:
            future.result(30)
        assert failed.value.http_status == 503
        assert writer.stats.failed_inserts == 1
    finally:
        writer.stop()
        wh.close()


def test_native_blocks_and_column_dicts_are_both_accepted(warehouse: Warehouse) -> None:
    encoder = NativeEncoder("otel_logs", {"Timestamp": "DateTime64(9)", "Body": "String"})
    blocks = [
        encoder.encode({"Timestamp": [1_700_000_000_000_000_000 + i], "Body": [f"native {i}"]})
        for i in range(3)
    ]
    writer = BatchWriter(warehouse, IngestSettings(batch_max_delay_ms=2000))
    writer.start()
    try:
        with writer.expecting():  # held open: the three blocks share one insert
            futures = [writer.submit("otel_logs", block) for block in blocks]
        assert [future.result(30) for future in futures] == [1, 1, 1]
        assert writer.stats.inserts == 1
        assert writer.submit("otel_logs", _logs(2)).result(30) == 2
        assert writer.submit("otel_logs", {"Body": []}).result(0) == 0
    finally:
        writer.stop()
    rows = warehouse.rows(
        f"SELECT Body, toUnixTimestamp64Nano(Timestamp) FROM {warehouse.table('otel_logs')} "
        "ORDER BY Body"
    )
    assert rows == [
        ("hello 0", 1_700_000_000_000_000_000),
        ("hello 1", 1_700_000_000_000_000_001),
        ("native 0", 1_700_000_000_000_000_000),
        ("native 1", 1_700_000_000_000_000_001),
        ("native 2", 1_700_000_000_000_000_002),
    ]
