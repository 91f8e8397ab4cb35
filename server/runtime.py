"""Running andon's servers: in a background thread (`start_server`) or in the foreground (`serve`).

One process hosts everything that touches the warehouse (an embedded chDB directory can be
opened by one process only): the batching writer, two uvicorn servers (ingest port and console/API port) sharing one event
loop in a background thread, and the background services (`server.app.BACKGROUND_SERVICES`).
OTLP bodies are decoded in worker processes (`ingest.decode_workers`) that never open it.

Start order: warehouse -> writer -> HTTP servers -> services. Stop order is the reverse, and
graceful: services stop; the HTTP servers stop accepting and let in-flight requests finish
(they wait for their rows to commit, so the writer is still running); then the decode workers
stop; then the writer flushes
everything it accepted; then the warehouse closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from errors import AndonError, ConfigError
from ingest.decode_workers import OtlpDecoders
from ingest.writer import BatchWriter
from server import app as server_app
from server.context import BackgroundService, ServerContext, utc_now
from settings import Settings
from warehouse import Warehouse, open_warehouse

log = logging.getLogger(__name__)

_STARTUP_TIMEOUT_S = 30.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (port 0: one the OS picks).

    Binding here, before uvicorn starts, makes "address in use" a clear error in the caller and
    tells us the real port at once.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve listen address {host!r}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@dataclass
class RunningServer:
    """Handle on servers running in a background thread; `stop` shuts them down gracefully."""

    context: ServerContext
    ingest_url: str
    console_url: str
    _thread: threading.Thread
    _servers: list[uvicorn.Server]
    _services: list[BackgroundService]
    _owns_warehouse: bool
    _stopped: bool = field(default=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse the server writes to."""
        return self.context.warehouse

    @property
    def writer(self) -> BatchWriter:
        """The server's batching writer."""
        return self.context.writer

    @property
    def alive(self) -> bool:
        """Whether the HTTP servers are still running."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop gracefully: services, then HTTP (in-flight requests finish), then flush the
        writer, then close the warehouse if the server opened it. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for service in reversed(self._services):
            try:
                service.stop()
            except Exception:
                log.exception("background service %r failed to stop", service)
        for server in self._servers:
            server.should_exit = True
        timeout = self.context.settings.server.shutdown_timeout_s
        self._thread.join(timeout + 5)
        if self._thread.is_alive():
            for server in self._servers:
                server.force_exit = True
            self._thread.join(5)
        # In-flight requests are done: nothing more to decode, then everything to flush.
        self.context.decoders.stop()
        self.context.writer.stop(flush=True)
        if self._owns_warehouse:
            self.context.warehouse.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _uvicorn(app: Starlette, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=int(settings.server.shutdown_timeout_s),
        # OTLP clients keep connections open between exports.
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


def start_server(
    settings: Settings,
    warehouse: Warehouse | None = None,
    *,
    ingest_port: int | None = None,
    console_port: int | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> RunningServer:
    """Start the writer, both HTTP servers and the background services in this process.

    ``warehouse``: use this one (tests, `andon demo`); by default the server opens (and later
    closes) the one in ``settings``. Ports default to the settings'; 0 lets the OS pick (read
    the result from ``.ingest_url`` / ``.console_url``). Returns once both servers accept
    connections.
    """
    owns = warehouse is None
    wh = open_warehouse(settings.warehouse) if warehouse is None else warehouse
    sockets: list[socket.socket] = []
    writer = BatchWriter(wh, settings.ingest)
    try:
        ingest_sock = bind_socket(
            settings.ingest.host, settings.ingest.port if ingest_port is None else ingest_port
        )
        sockets.append(ingest_sock)
        console_sock = bind_socket(
            settings.server.console_host,
            settings.server.console_port if console_port is None else console_port,
        )
        sockets.append(console_sock)
        writer.start()
        ctx = ServerContext(
            settings=settings,
            warehouse=wh,
            writer=writer,
            decoders=OtlpDecoders(wh, settings.ingest),
            clock=clock,
        )
        servers = [
            _uvicorn(server_app.build_ingest_app(ctx), settings),
            _uvicorn(server_app.build_console_app(ctx), settings),
        ]
        thread = _start_loop_thread(servers, [[ingest_sock], [console_sock]])
        running = RunningServer(
            context=ctx,
            ingest_url=_url(ingest_sock),
            console_url=_url(console_sock),
            _thread=thread,
            _servers=servers,
            _services=[],
            _owns_warehouse=owns,
        )
    except BaseException:
        writer.stop(flush=True)
        for sock in sockets:
            sock.close()
        if owns:
            wh.close()
        raise
    try:
        for factory in server_app.BACKGROUND_SERVICES:
            service = factory(ctx)
            service.start()
            running._services.append(service)
    except BaseException:
        running.stop()
        raise
    return running


def _start_loop_thread(
    servers: list[uvicorn.Server], sockets: list[list[socket.socket]]
) -> threading.Thread:
    """Run the uvicorn servers on one event loop in a daemon thread; wait until they listen."""
    ready = threading.Event()
    failure: list[BaseException] = []

    async def run_all() -> None:
        tasks = [
            asyncio.create_task(server.serve(sockets=socks))
            for server, socks in zip(servers, sockets, strict=True)
        ]
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                break
            await asyncio.sleep(0.01)
        ready.set()
        await asyncio.gather(*tasks)

    def main() -> None:
        try:
            asyncio.run(run_all())
        except BaseException as exc:  # SystemExit included: uvicorn exits on startup failure
            failure.append(exc)
            log.exception("the HTTP servers stopped with an error")
        finally:
            ready.set()

    thread = threading.Thread(target=main, name="andon-http", daemon=True)
    thread.start()
    if not ready.wait(_STARTUP_TIMEOUT_S) or not all(server.started for server in servers):
        for server in servers:
            server.should_exit = True
        thread.join(5)
        detail = f": {failure[0]!r}" if failure else ""
        raise AndonError(f"the HTTP servers did not start{detail}")
    return thread


@contextlib.contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (a second SIGINT/SIGTERM is left to the default handler)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        # A second signal means "now": restore the defaults for it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve(
    settings: Settings,
    *,
    on_ready: Callable[[RunningServer], None] | None = None,
    on_stopping: Callable[[RunningServer], None] | None = None,
) -> None:
    """Run in the foreground until SIGINT/SIGTERM, then stop gracefully (flushing the writer).

    ``on_ready`` is called once the servers listen (the CLI prints the addresses there);
    ``on_stopping`` when a stop signal arrived, before the flush.
    """
    stop = threading.Event()
    with _stop_signals(stop):
        running = start_server(settings)
        try:
            if on_ready is not None:
                on_ready(running)
            while not stop.wait(0.5):
                if not running.alive:
                    raise AndonError("the HTTP servers stopped unexpectedly")
            if on_stopping is not None:
                on_stopping(running)
        finally:
            running.stop()
