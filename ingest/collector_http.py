"""HTTP endpoints of the collectors, served on the ingest port next to OTLP.

- ``POST /api/{project}/envelope/`` and ``POST /api/{project}/store/``: the Sentry protocol
  (gzip/deflate bodies, ``X-Sentry-Auth`` or ``?sentry_key=``); answers ``{"id": event_id}``;
- ``POST /v1/tickets``: support tickets as JSON (one object, a list, or ``{"tickets": [...]}``),
  ``Authorization: Bearer <collectors.tickets_token or ingest.token>``; ``?source=NAME``;
- ``POST /v1/github``: GitHub webhooks, ``X-Hub-Signature-256`` checked.

Bad input: 400 ``{"error": ..., "field": ...}`` and nothing stored (a request is stored whole or
not at all); bad credentials: 401; bodies over ``collectors.max_body_bytes`` (on the wire or
decompressed): 413.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from errors import AndonError, AuthError, InputError, PayloadTooLarge, UnsupportedMediaType
from ingest import changes, github, sentry, tickets
from ingest.content_encoding import decompress
from ingest.errors import ErrorEvent, store_errors
from ingest.otlp_http import check_token
from server.context import ServerContext

Handler = Callable[[Request], Awaitable[Response]]
_CORS = {"Access-Control-Allow-Origin": "*"}  # browser SDKs post envelopes cross-origin


def _error(exc: AndonError) -> Response:
    body: dict[str, Any] = {"error": exc.message}
    if isinstance(exc, InputError) and exc.field:
        body["field"] = exc.field
    headers = dict(_CORS)
    if isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = 'Bearer realm="andon"'
    return JSONResponse(body, exc.http_status, headers=headers)


def _guarded(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except AndonError as exc:
            return _error(exc)

    return wrapped


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed, refusing more than ``limit`` bytes at either stage."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is over the {limit:,} byte limit")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise PayloadTooLarge(f"request body is over the {limit:,} byte limit")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding == "br":
        return _brotli(bytes(chunks), limit)
    return decompress(bytes(chunks), encoding, limit)


def _brotli(body: bytes, limit: int) -> bytes:
    try:
        import brotli
    except ImportError as exc:
        raise UnsupportedMediaType("Content-Encoding br is not supported here: use gzip") from exc
    try:
        data: bytes = brotli.decompress(body)
    except Exception as exc:  # brotli.error has no stable import path
        raise InputError(f"cannot decompress the br body: {exc}") from exc
    if len(data) > limit:
        raise PayloadTooLarge(f"request body is over the {limit:,} byte limit once decompressed")
    return data


def _legacy_store_body(body: bytes) -> bytes:
    """Old SDKs (raven) post store bodies as base64 of zlib-compressed JSON."""
    stripped = body.strip()
    if stripped[:1] in (b"{", b"["):
        return body
    try:
        return zlib.decompress(base64.b64decode(stripped, validate=True))
    except (ValueError, zlib.error):
        return body  # not that encoding either: let the JSON parser report it


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InputError(f"body is not valid JSON: {exc}", field="body") from exc


def routes(ctx: ServerContext) -> list[BaseRoute]:
    """The collector routes for the ingest app (see the module docstring)."""
    cfg = ctx.settings.collectors
    limit = cfg.max_body_bytes
    wh = ctx.warehouse

    async def sentry_endpoint(request: Request) -> Response:
        project_id = request.path_params["project"]
        auth = sentry.parse_auth_header(request.headers.get("x-sentry-auth", ""))
        key = auth.get("sentry_key") or request.query_params.get("sentry_key")
        body = await read_body(request, limit)
        envelope = request.url.path.rstrip("/").endswith("/envelope")
        if envelope:
            header, payloads = sentry.events_from_envelope(body)
            key = key or sentry.key_from_dsn(str(header.get("dsn") or ""))
        else:
            header, payloads = {}, []
        project = sentry.check_key(cfg, project_id, key)
        if not envelope:
            event = _json(_legacy_store_body(body))
            if not isinstance(event, dict):
                raise InputError("expected a JSON event object", field="body")
            payloads = [event]
        events: list[ErrorEvent] = [
            sentry.to_error_event(p, project_id, project) for p in payloads if sentry.is_error(p)
        ]
        if events:
            await run_in_threadpool(store_errors, wh, events)
        event_id = str(header.get("event_id") or (payloads[0].get("event_id") if payloads else ""))
        return JSONResponse({"id": event_id.replace("-", "")}, headers=_CORS)

    async def tickets_endpoint(request: Request) -> Response:
        token = cfg.tickets_token or ctx.settings.ingest.token
        if token is None:
            raise AuthError("the tickets webhook is disabled: set collectors.tickets_token")
        check_token(token.get_secret_value(), request.headers.get("authorization"))
        data = _json(await read_body(request, limit))
        items = data.get("tickets") if isinstance(data, dict) and "tickets" in data else data
        items = items if isinstance(items, list) else [items]
        source = request.query_params.get("source", "webhook")[:100] or "webhook"
        privacy = tickets.Privacy.from_settings(cfg)
        batch = []
        for i, item in enumerate(items):
            where = f"tickets[{i}]" if len(items) > 1 or isinstance(data, list) else ""
            if not isinstance(item, dict):
                raise InputError("expected a ticket object", field=where or "body")
            try:
                canonical = {str(k).lower(): v for k, v in item.items()}
                batch.append(tickets.ticket_from_mapping(canonical, source=source, privacy=privacy))
            except InputError as exc:
                field = f"{where}.{exc.field}" if where and exc.field else exc.field or where
                raise InputError(exc.reason, field=field) from exc
        stored, duplicates = await run_in_threadpool(tickets.store, wh, batch)
        return JSONResponse({"stored": stored, "duplicates": duplicates})

    async def github_endpoint(request: Request) -> Response:
        body = await read_body(request, limit)
        secret = cfg.github_webhook_secret
        github.verify_signature(
            secret.get_secret_value() if secret else None,
            body,
            request.headers.get("x-hub-signature-256"),
        )
        event = request.headers.get("x-github-event", "")
        payload = _json(body)
        if not isinstance(payload, dict):
            raise InputError("expected a JSON object", field="body")
        if event == "ping":
            return JSONResponse({"ok": True, "zen": payload.get("zen", "")})
        found = github.changes_from_event(event, payload)
        if not found:
            return JSONResponse({"ignored": f"{event} {payload.get('action', '')}".strip()}, 202)
        stored, duplicates = await run_in_threadpool(changes.store, wh, found)
        return JSONResponse({"stored": stored, "duplicates": duplicates})

    return [
        Route("/api/{project}/envelope/", _guarded(sentry_endpoint), methods=["POST"]),
        Route("/api/{project}/store/", _guarded(sentry_endpoint), methods=["POST"]),
        Route("/v1/tickets", _guarded(tickets_endpoint), methods=["POST"]),
        Route("/v1/github", _guarded(github_endpoint), methods=["POST"]),
    ]
