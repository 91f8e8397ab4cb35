"""The two Starlette apps `andon serve` runs, composed from route providers.

- the **ingest app** (``[ingest] host:port``, 4318 by default): OTLP/HTTP and the collector
  endpoints (error events, ticket and GitHub webhooks);
- the **console app** (``[server] console_host:console_port``, 8318 by default): the web
  console and the JSON API.

A package contributes endpoints by adding a provider, a function ``(ServerContext) ->
list[BaseRoute]``, to `ROUTE_PROVIDERS_INGEST` or `ROUTE_PROVIDERS_CONSOLE` below, and
long-running work (the scheduler) by adding a factory to `BACKGROUND_SERVICES`. Provider modules
import `ServerContext` from `server.context` (re-exported here).

Both apps answer ``GET /healthz`` and turn any `AndonError` raised by a handler into JSON
``{"error": message}`` with its ``http_status`` (plus ``Retry-After`` when the error carries
``retry_after_s``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.app import console_routes
from errors import AndonError
from ingest import collector_http
from ingest.otlp_http import otlp_routes
from scheduler import scheduler_service
from server.context import BackgroundService, ServerContext

log = logging.getLogger(__name__)

RouteProvider = Callable[[ServerContext], list[BaseRoute]]
ServiceFactory = Callable[[ServerContext], BackgroundService]

# Routes on the ingest port (4318). OTLP first; collectors append theirs.
ROUTE_PROVIDERS_INGEST: list[RouteProvider] = [
    otlp_routes,
    collector_http.routes,
]

# Routes on the console/API port (8318): the JSON API and the web console.
ROUTE_PROVIDERS_CONSOLE: list[RouteProvider] = [console_routes]

# Started with the server (after the HTTP servers are up), stopped before them.
BACKGROUND_SERVICES: list[ServiceFactory] = [scheduler_service]

__all__ = [
    "BACKGROUND_SERVICES",
    "ROUTE_PROVIDERS_CONSOLE",
    "ROUTE_PROVIDERS_INGEST",
    "BackgroundService",
    "RouteProvider",
    "ServerContext",
    "ServiceFactory",
    "build_console_app",
    "build_ingest_app",
]


async def andon_error_response(request: Request, exc: Exception) -> Response:
    """`AndonError` -> ``{"error": ...}`` with its status (and Retry-After when retryable)."""
    assert isinstance(exc, AndonError)
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if exc.http_status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse({"error": exc.message}, exc.http_status, headers=headers)


def _healthz(ctx: ServerContext, role: str) -> Route:
    async def healthz(request: Request) -> Response:
        writer = ctx.writer
        body: dict[str, Any] = {
            "status": "ok" if writer.running else "stopping",
            "role": role,
            "database": ctx.warehouse.database,
            "writer": {
                "queued_rows": writer.queued_rows,
                "inserted_rows": writer.stats.inserted_rows,
                "inserts": writer.stats.inserts,
                "failed_inserts": writer.stats.failed_inserts,
            },
        }
        return JSONResponse(body, 200 if writer.running else 503)

    return Route("/healthz", healthz, methods=["GET"])


def _build(ctx: ServerContext, providers: list[RouteProvider], role: str) -> Starlette:
    routes: list[BaseRoute] = [_healthz(ctx, role)]
    for provider in providers:
        routes.extend(provider(ctx))
    return Starlette(routes=routes, exception_handlers={AndonError: andon_error_response})


def build_ingest_app(ctx: ServerContext) -> Starlette:
    """The app on the ingest port: /healthz + every `ROUTE_PROVIDERS_INGEST` route."""
    return _build(ctx, ROUTE_PROVIDERS_INGEST, "ingest")


def build_console_app(ctx: ServerContext) -> Starlette:
    """The app on the console port: /healthz + every `ROUTE_PROVIDERS_CONSOLE` route."""
    return _build(ctx, ROUTE_PROVIDERS_CONSOLE, "console")
