"""The OTLP/HTTP receiver: ``POST /v1/traces`` and ``POST /v1/logs`` (port 4318).

What the OTLP specification asks of a server, and what andon does:

- ``application/x-protobuf`` and ``application/json`` bodies (OTLP/JSON rules), optionally
  ``Content-Encoding: gzip`` (or ``deflate``); other content types get 415, other encodings 415.
- The response uses the request's encoding: an ``Export*ServiceResponse``, with
  ``partial_success`` (rejected count + message) when some items were invalid, and for errors a
  ``google.rpc.Status`` (JSON error bodies also carry andon's usual ``"error"`` key).
- A request is acknowledged (200) only after its rows are committed to the warehouse.
- 400 for a body that cannot be decoded, 413 over ``ingest.max_body_bytes`` (checked on the wire
  and while decompressing, so a gzip bomb stops at the limit), 401 when ``ingest.token`` is set
  and the bearer token is missing or wrong, 429 (queue full) and 503 (warehouse unavailable or
  server stopping) with ``Retry-After``: the retryable statuses OTLP clients back off on.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from errors import (
    AndonError,
    AuthError,
    InputError,
    PayloadTooLarge,
    UnsupportedMediaType,
    WarehouseError,
)
from ingest.otlp_payload import DecodedBody
from ingest.writer import Backpressure

if TYPE_CHECKING:
    from server.context import ServerContext

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_CONTENT_TYPES = {PROTOBUF: "protobuf", "application/protobuf": "protobuf", JSON: "json"}
_READ_CHUNK = 64 * 1024

# google.rpc.Code values for the Status body (informational: clients go by the HTTP status).
_RPC_CODES = {400: 3, 401: 16, 413: 3, 415: 3, 429: 8, 500: 13, 503: 14}


class _Signal:
    """Per-signal response types and field names."""

    def __init__(self, name: str, response: type[Message], rejected_field: str) -> None:
        self.name = name
        self.response = response
        self.rejected_field = rejected_field


TRACES = _Signal("traces", trace_service_pb2.ExportTraceServiceResponse, "rejected_spans")
LOGS = _Signal("logs", logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records")


# -- pure helpers ----------------------------------------------------------------------------


def body_format(content_type: str | None) -> str:
    """``protobuf`` or ``json`` for a Content-Type header; `UnsupportedMediaType` otherwise."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = _CONTENT_TYPES.get(media)
    if found is None:
        shown = media or "none"
        raise UnsupportedMediaType(f"unsupported Content-Type {shown!r}: use {PROTOBUF} or {JSON}")
    return found


def export_response(signal: _Signal, batch: DecodedBody, fmt: str) -> Response:
    """The 200 answer, with ``partial_success`` when items were rejected."""
    message = signal.response()
    if batch.rejected:
        partial = message.partial_success
        setattr(partial, signal.rejected_field, batch.rejected)
        partial.error_message = batch.error_message
    if fmt == "json":
        body: dict[str, Any] = {}
        if batch.rejected:
            camel = "rejectedSpans" if signal is TRACES else "rejectedLogRecords"
            body["partialSuccess"] = {
                camel: str(batch.rejected),
                "errorMessage": batch.error_message,
            }
        return Response(json.dumps(body), 200, media_type=JSON)
    return Response(message.SerializeToString(), 200, media_type=PROTOBUF)


def error_response(status: int, message: str, fmt: str | None, retry_after: int | None) -> Response:
    """An error as a ``google.rpc.Status`` in the request's encoding (JSON when unknown)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="andon"'
    code = _RPC_CODES.get(status, 2)
    if fmt == "protobuf":
        body = status_pb2.Status(code=code, message=message).SerializeToString()
        return Response(body, status, headers=headers, media_type=PROTOBUF)
    payload = {"code": code, "message": message, "error": message}
    return Response(json.dumps(payload), status, headers=headers, media_type=JSON)


def check_token(expected: str | None, authorization: str | None) -> None:
    """Raise `AuthError` unless ``Authorization: Bearer <expected>`` (when a token is set)."""
    if expected is None:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise AuthError("missing bearer token: send 'Authorization: Bearer <ingest token>'")
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise AuthError("wrong bearer token")


# -- the receiver ----------------------------------------------------------------------------


class OtlpReceiver:
    """Request handling shared by both signals; one instance per running server."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.ingest
        token = self.settings.token
        self._token = token.get_secret_value() if token is not None else None

    async def traces(self, request: Request) -> Response:
        """``POST /v1/traces``."""
        return await self._export(request, TRACES)

    async def logs(self, request: Request) -> Response:
        """``POST /v1/logs``."""
        return await self._export(request, LOGS)

    async def _export(self, request: Request, signal: _Signal) -> Response:
        fmt: str | None = None
        try:
            fmt = body_format(request.headers.get("content-type"))
            check_token(self._token, request.headers.get("authorization"))
            # From here until its rows are submitted, the writer holds its batch open for us.
            with self.ctx.writer.expecting():
                raw = await self._read_body(request)
                encoding = request.headers.get("content-encoding")
                batch = await self.ctx.decoders.decode(signal.name, fmt, encoding, raw)
                committed = self.ctx.writer.submit(batch.table, batch.block)
            try:
                await asyncio.wrap_future(committed)
            except WarehouseError:
                self.ctx.decoders.forget(batch.table)  # the table may have changed
                raise
            return export_response(signal, batch, fmt)
        except ClientDisconnect:
            return Response(status_code=400)
        except AndonError as exc:
            retry_after = getattr(exc, "retry_after_s", None)
            if retry_after is None and isinstance(exc, WarehouseError | Backpressure):
                retry_after = 5 if isinstance(exc, WarehouseError) else 1
            if exc.http_status >= 500:
                log.warning("OTLP %s export failed: %s", signal.name, exc)
            return error_response(exc.http_status, exc.message, fmt, retry_after)

    async def _read_body(self, request: Request) -> bytes:
        """The raw body, refusing (413) anything over the limit before reading it all."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError as exc:
                raise InputError(f"invalid Content-Length {declared!r}") from exc
            if size > limit:
                raise PayloadTooLarge(f"request body of {size:,} bytes is over the {limit:,} limit")
        chunks: list[bytes] = []
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge(f"request body is over the {limit:,} byte limit")
            chunks.append(chunk)
        return b"".join(chunks)


def otlp_routes(ctx: ServerContext) -> list[BaseRoute]:
    """The OTLP/HTTP routes, for `server.app.ROUTE_PROVIDERS_INGEST`."""
    receiver = OtlpReceiver(ctx)
    handlers: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
        ("/v1/traces", receiver.traces),
        ("/v1/logs", receiver.logs),
    ]
    return [Route(path, handler, methods=["POST"]) for path, handler in handlers]
