"""`andon serve` as a real process on its own embedded warehouse: it says where it listens,
holds the warehouse, stops gracefully on SIGTERM (sent to its whole process group, as a service
manager does, so its decode workers get it too), keeps its data across restarts, and loses
nothing it acknowledged when killed outright; its decode worker processes never outlive it.

The warehouse directory of these servers is not the test process's engine, so everything is
checked from other processes (`andon status --json`, a small reader script).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

READ_SPAN_IDS = """
import json, sys
from settings import load_settings
from warehouse import open_warehouse
settings = load_settings(overrides={"warehouse": {"dsn": sys.argv[1]}})
with open_warehouse(settings.warehouse) as wh:
    print(json.dumps([r[0] for r in wh.rows(f"SELECT SpanId FROM {wh.table('otel_traces')}")]))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANDON_")}
    env["PYTHONPATH"] = str(ROOT)
    env["ANDON_SCHEDULER__ENABLED"] = "false"  # only the receiver matters here
    return env


def _andon(tmp_path: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "cli.main", "--dsn", dsn, *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


class Served:
    """A running `andon serve` subprocess and the URL it printed."""

    def __init__(self, tmp_path: Path, dsn: str) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "cli.main", "--dsn", dsn, "serve", "--port", "0", "--console-port", "0"],
            cwd=tmp_path,
            env=_env(tmp_path),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group, like a service
        )
        self.lines: list[str] = []
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "ready" in line:
                break
        match = re.search(r"OTLP/HTTP on (http://\S+)", "".join(self.lines))
        assert match, "".join(self.lines)
        self.url = match.group(1)
        # Keep draining stderr so the server never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def terminate(self) -> int:
        """SIGTERM to the whole process group (the server and its decode workers)."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(60)
        self._drain.join(10)
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(60)


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    return f"chdb://{tmp_path / 'warehouse'}"


@pytest.fixture
def served(tmp_path: Path, dsn: str) -> Iterator[Served]:
    server = Served(tmp_path, dsn)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.kill()


def _request(first_id: int, spans: int) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(first_id, first_id + spans):
        scope.spans.add(
            trace_id=n.to_bytes(16, "big"),
            span_id=n.to_bytes(8, "big"),
            name="GET /",
            start_time_unix_nano=1_700_000_000_000_000_000 + n,
            end_time_unix_nano=1_700_000_000_000_001_000 + n,
        )
    return request.SerializeToString()


def _post(url: str, first_id: int, spans: int) -> int:
    response = httpx.post(
        f"{url}/v1/traces",
        content=_request(first_id, spans),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=60,
    )
    return response.status_code


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _gone(pids: list[int], timeout: float = 30) -> bool:
    """Whether every process in ``pids`` has exited (zombies count as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.1)
    return False


def _span_count(tmp_path: Path, dsn: str) -> int:
    status = _andon(tmp_path, dsn, "status", "--json")
    assert status.returncode == 0, status.stderr
    return int(json.loads(status.stdout)["tables"]["otel_traces"])


def test_serve_holds_the_warehouse_stops_gracefully_and_keeps_data_across_restarts(
    tmp_path: Path, dsn: str, served: Served
) -> None:
    text = "".join(served.lines)
    assert "console and API on http://127.0.0.1:" in text
    assert f"warehouse {dsn}" in text
    assert httpx.get(f"{served.url}/healthz").status_code == 200
    second = _andon(tmp_path, dsn, "serve", "--port", "0", "--console-port", "0")
    assert second.returncode == 1
    assert "held by another process" in second.stderr
    assert "Traceback" not in second.stderr
    # Any other command says the same, in one line.
    status = _andon(tmp_path, dsn, "status")
    assert status.returncode == 1
    assert status.stderr.strip().splitlines()[-1].startswith("Error: the embedded warehouse")
    assert "held by another process" in status.stderr

    assert _post(served.url, 1, 50) == 200
    workers = _children(served.proc.pid)
    assert workers  # the first OTLP request started the decode workers
    assert served.terminate() == 0
    assert _gone(workers)
    assert "andon serve: stopped" in "".join(served.lines)

    again = Served(tmp_path, dsn)
    try:
        assert _post(again.url, 1000, 25) == 200
        assert again.terminate() == 0
    finally:
        if again.proc.poll() is None:
            again.kill()
    assert _span_count(tmp_path, dsn) == 75  # the first run's 50 survived the restart


def test_a_killed_server_loses_nothing_it_acknowledged(
    tmp_path: Path, dsn: str, served: Served
) -> None:
    acknowledged: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(offset: int) -> None:
        first = offset
        while not stop.is_set():
            try:
                status = _post(served.url, first, 20)
            except httpx.HTTPError:
                return  # the server is gone
            if status == 200:
                with lock:
                    acknowledged.extend(range(first, first + 20))
            first += 20 * 3

    clients = [threading.Thread(target=client, args=(1 + 20 * i,)) for i in range(3)]
    for thread in clients:
        thread.start()
    while True:
        with lock:
            if len(acknowledged) >= 200:
                break
        if served.proc.poll() is not None:
            pytest.fail("".join(served.lines))
        stop.wait(0.05)
    workers = _children(served.proc.pid)
    assert workers
    served.kill()  # SIGKILL while the clients are still sending
    stop.set()
    for thread in clients:
        thread.join(60)
    assert _gone(workers)  # the decode workers noticed and exited: no orphans

    reader = subprocess.run(
        [PYTHON, "-c", READ_SPAN_IDS, dsn],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reader.returncode == 0, reader.stderr
    stored = set(json.loads(reader.stdout))
    expected = {n.to_bytes(8, "big").hex() for n in acknowledged}
    assert expected <= stored
