"""The console's routes for `andon serve`: `console_routes` is the provider `server/` mounts.

Pages (sign-in required): ``/`` (what needs you), ``/tickets`` (the review queue),
``/incidents``, ``/friction``, ``/runs``. JSON API under ``/api/v1`` (bearer API token or a
console session). Static files under ``/static``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from console.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    authenticate,
    same_token,
    valid_name,
)
from console.friction import friction_routes
from console.incidents import incidents_routes
from console.runs import failing_jobs, runs_routes
from console.tickets import status_counts, tickets_routes
from console.traces import traces_routes
from console.web import STATIC, ConsoleContext, ConsoleWeb, Viewer, form_text, safe_next
from scheduler import shared_runner

Endpoint = Callable[[Request], Awaitable[Response]]
PageHandler = Callable[[Request, Viewer, FormData | None], Response]


def console_routes(ctx: ConsoleContext) -> list[BaseRoute]:
    """Every console route (pages, JSON API, static files) for one server context."""
    web = ConsoleWeb(ctx)
    routes: list[BaseRoute] = [
        Route("/login", _login_page(web), methods=["GET"]),
        Route("/login", _login_submit(web), methods=["POST"]),
        Route("/logout", web.page(_logout), methods=["POST"]),
        Route("/", web.page(_home(web)), methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
    ]
    routes += tickets_routes(web)
    routes += incidents_routes(web)
    routes += friction_routes(web)
    routes += runs_routes(web)
    routes += traces_routes(web)
    return routes


def _login_page(web: ConsoleWeb) -> Endpoint:
    async def login(request: Request) -> Response:
        if web.viewer(request) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        return _render_login(web, request, "", "", 200)

    return login


def _render_login(
    web: ConsoleWeb, request: Request, error: str, name: str, status: int
) -> Response:
    token = web.login_csrf(request)
    response = web.render(
        request,
        "login.html",
        None,
        status_code=status,
        error=error,
        name=name,
        next=safe_next(request.query_params.get("next")),
        login_csrf=token,
        no_users=not web.settings.users,
        access_token=request.query_params.get("token", ""),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/"
    )
    return response


def _login_submit(web: ConsoleWeb) -> Endpoint:
    async def submit(request: Request) -> Response:
        form = await request.form()
        name = form_text(form, "name")
        cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie_token or not same_token(cookie_token, form_text(form, "csrf")):
            return _render_login(
                web, request, "The sign-in form expired. Please try again.", name, 403
            )
        client = request.client.host if request.client else "?"
        key = f"{name}|{client}"
        wait = web.throttle.blocked_for(key)
        if wait:
            return _render_login(
                web,
                request,
                f"Too many failed sign-ins. Try again in {int(wait // 60) + 1} min.",
                name,
                429,
            )
        password = form.get("password")
        secret = password if isinstance(password, str) else ""
        if web.access_token is not None:
            if not valid_name(name):
                return _render_login(
                    web, request, "Type your name (letters, digits, . _ @ -).", name, 400
                )
            if not same_token(web.access_token, secret.strip()):
                web.throttle.failed(key)
                return _render_login(web, request, "That access token is not right.", name, 401)
            signed_in, via = name, "token"
        else:
            user = authenticate(web.settings, name, secret)
            if user is None:
                web.throttle.failed(key)
                return _render_login(web, request, "Wrong name or password.", name, 401)
            signed_in, via = user.name, "password"
        web.throttle.succeeded(key)
        response = RedirectResponse(safe_next(form_text(form, "next")), status_code=303)
        web.start_session(response, signed_in, via=via)
        return response

    return submit


def _logout(request: Request, viewer: Viewer, form: FormData | None) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _analysis_card(ctx: ConsoleContext) -> dict[str, object]:
    """How many friction clusters the newest analysis run found, and when its window ended."""
    from analysis.store import latest_run_id, load_clusters

    run = latest_run_id(ctx.warehouse)
    if run is None:
        return {
            "value": "-",
            "label": "no analysis yet",
            "hint": "runs hourly; start one on the Runs page",
            "href": "/runs",
            "tone": "",
        }
    clusters = load_clusters(ctx.warehouse, run)
    frictions = [c for c in clusters if c.kind not in ("error_group", "ticket_theme")]
    return {
        "value": len(frictions),
        "label": "places users struggle" if len(frictions) != 1 else "place users struggle",
        "hint": f"found by the latest analysis ({len(clusters) - len(frictions)} error groups "
        "and support-ticket themes besides)",
        "href": "/friction",
        "tone": "warn" if frictions else "ok",
    }


def _home(web: ConsoleWeb) -> PageHandler:
    def home(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        from rca import service as rca

        ctx = web.ctx
        runner = shared_runner(ctx.settings, ctx.warehouse)
        failing = failing_jobs(runner)
        counts = status_counts(ctx.warehouse)
        waiting = counts["proposed"] + counts["edited"]
        open_incidents = rca.list_incidents(ctx.warehouse, status="open")
        cards = [
            {
                "value": waiting,
                "label": "tickets waiting for review"
                if waiting != 1
                else "ticket waiting for review",
                "hint": f"{counts['approved']} approved, {counts['exported']} exported so far",
                "href": "/tickets",
                "tone": "warn" if waiting else "ok",
            },
            {
                "value": len(open_incidents),
                "label": "open incidents" if len(open_incidents) != 1 else "open incident",
                "hint": open_incidents[0].title if open_incidents else "no regression detected",
                "href": "/incidents?status=open",
                "tone": "bad" if open_incidents else "ok",
            },
            _analysis_card(ctx),
            {
                "value": len(failing),
                "label": "failing jobs" if len(failing) != 1 else "failing job",
                "hint": ", ".join(failing) if failing else "every job's last run worked",
                "href": "/runs?status=failed" if failing else "/runs",
                "tone": "bad" if failing else "ok",
            },
        ]
        return web.render(
            request, "home.html", viewer, cards=cards, runs=runner.store.recent(limit=8)
        )

    return home
