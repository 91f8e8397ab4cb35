"""What every route provider and background service of `andon serve` is built from.

Kept apart from `server.app` so that provider modules can import it without importing the app
that lists them (which would be a cycle). `server.app` re-exports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ingest.decode_workers import OtlpDecoders
    from ingest.writer import BatchWriter
    from settings import Settings
    from warehouse import Warehouse


def utc_now() -> datetime:
    """The real clock: an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass
class ServerContext:
    """The shared pieces a running server hands to its route providers and services.

    ``writer`` is the one batching writer of the process: endpoints that store telemetry-sized
    volumes submit to it instead of inserting themselves, so concurrent requests share inserts.
    ``decoders`` decode OTLP request bodies (in worker processes by default).
    ``clock`` returns an aware UTC datetime (tests inject a fixed one).
    ``startup_notes`` are lines for the person who started `andon serve` (how to sign in, say),
    each built from the console's real URL once the servers listen.
    """

    settings: Settings
    warehouse: Warehouse
    writer: BatchWriter
    decoders: OtlpDecoders
    clock: Callable[[], datetime] = field(default=utc_now)
    startup_notes: list[Callable[[str], str]] = field(default_factory=list)


class BackgroundService(Protocol):
    """Something that runs alongside the HTTP servers (the scheduler, for instance).

    ``start`` must return promptly (run work in its own thread); ``stop`` must return once the
    service has finished what it was doing. Services start after the writer and the HTTP
    servers, and stop before them.
    """

    def start(self) -> None: ...

    def stop(self) -> None: ...
