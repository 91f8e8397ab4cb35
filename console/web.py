"""The console's request plumbing: sign-in, sessions, CSRF, page rendering, error pages.

Pages are server-rendered Jinja2 templates (``console/templates``) with local CSS and a few
lines of local JavaScript (``console/static``): nothing is fetched from the internet.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlparse

import jinja2
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from console import charts
from console.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    Session,
    SessionSigner,
    api_token_name,
    find_user,
    same_token,
    token_marker,
)
from console.config import ConsoleSettings
from errors import AndonError, AuthError

log = logging.getLogger("andon.console")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class ConsoleContext(Protocol):
    """What the console needs from the server: settings, the warehouse and the clock.

    `server.context.ServerContext` satisfies it.
    """

    @property
    def settings(self) -> Any: ...

    @property
    def warehouse(self) -> Any: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def startup_notes(self) -> list[Callable[[str], str]]: ...


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a page: a signed-in reviewer (and the CSRF token their forms carry)."""

    name: str
    display_name: str
    csrf: str

    @property
    def actor(self) -> str:
        return self.name


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def format_time(value: datetime | None) -> str:
    """'2026-11-21 10:05 UTC' (naive datetimes are UTC)."""
    if value is None:
        return "-"
    return f"{_naive_utc(value):%Y-%m-%d %H:%M} UTC"


def format_ago(value: datetime | None, now: datetime) -> str:
    """'3 min ago', '2 h ago', 'in 5 min'."""
    if value is None:
        return "never"
    seconds = (_naive_utc(now) - _naive_utc(value)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{int(seconds)} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400 * 2:
        text = f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    else:
        text = f"{int(seconds // 86400)} days"
    return f"in {text}" if future else f"{text} ago"


def format_ms(value: float | None) -> str:
    """A duration in milliseconds for people: '850 ms', '12.4 s', '3 min 5 s'."""
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def format_percent(value: float | None, digits: int = 1) -> str:
    """0.342 -> '34.2%'."""
    if value is None:
        return "-"
    return f"{100 * value:.{digits}f}%"


def safe_next(target: str | None) -> str:
    """Only same-site paths after sign-in (no open redirects)."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class ConsoleWeb:
    """Templates, sessions and the wrappers every page and API endpoint goes through."""

    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        self.settings: ConsoleSettings = ctx.settings.console
        secret = self.settings.secret_key
        if secret is None:
            # Only worth a warning when people have passwords to type again after a restart.
            log.log(
                logging.WARNING if self.settings.users else logging.INFO,
                "console.secret_key is not set: using a random key, so sign-ins end when andon "
                "restarts",
            )
            key = secrets.token_bytes(32)
        else:
            key = secret.get_secret_value().encode()
        self.signer = SessionSigner(key)
        self.throttle = LoginThrottle()
        # With no reviewers configured (a first run, the demo), people sign in with their name
        # and an access token printed at start, like a notebook server; with reviewers
        # configured, only their passwords work.
        self.access_token: str | None = None
        if not self.settings.users:
            self.access_token = secrets.token_urlsafe(18)
            ctx.startup_notes.append(self.access_hint)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            time=format_time,
            ms=format_ms,
            pct=format_percent,
            num=charts.format_number,
        )
        env.globals.update(ago=lambda value: format_ago(value, self.now()))
        self.templates = Jinja2Templates(env=env)

    def now(self) -> datetime:
        return _naive_utc(self.ctx.clock())

    def access_hint(self, console_url: str) -> str:
        """How to sign in when no reviewers are configured (printed when `andon serve` starts)."""
        return (
            "andon console: no reviewers are configured, so sign in with your name and this "
            f"access token: {self.access_token} (or open {console_url}/login?token="
            f"{self.access_token}). It changes at every start; add reviewers with "
            "`andon console add-user NAME`."
        )

    # -- sessions

    def viewer(self, request: Request) -> Viewer | None:
        session = self.signer.read(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        if session.via == "token":
            if self.access_token is None or session.marker != token_marker(self.access_token):
                return None
            return Viewer(session.user, session.user, session.csrf)
        user = find_user(self.settings, session.user)
        if user is None:  # removed from settings since signing in
            return None
        return Viewer(user.name, user.display_name or user.name, session.csrf)

    def start_session(self, response: Response, user: str, via: str = "password") -> Session:
        marker = token_marker(self.access_token) if via == "token" and self.access_token else ""
        cookie, session = self.signer.issue(
            user, self.settings.session_hours * 3600, via=via, marker=marker
        )
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(self.settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=self.settings.secure_cookies,
            path="/",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return session

    def end_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def login_csrf(self, request: Request) -> str:
        return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)

    # -- rendering

    def render(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        context.setdefault("flash", request.query_params.get("flash", ""))
        context.setdefault("flash_kind", request.query_params.get("flash_kind", "ok"))
        response = self.templates.TemplateResponse(
            request,
            template,
            {"viewer": viewer, "now": self.now(), "path": request.url.path, **context},
            status_code=status_code,
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'"
        )
        return response

    def error_page(
        self, request: Request, viewer: Viewer | None, status: int, title: str, message: str
    ) -> HTMLResponse:
        return self.render(
            request, "error.html", viewer, status_code=status, title=title, message=message
        )

    # -- wrappers

    def page(
        self, handler: Callable[[Request, Viewer, FormData | None], Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A signed-in page: redirects to sign-in, checks CSRF on POST, renders AndonErrors."""

        async def endpoint(request: Request) -> Response:
            viewer = self.viewer(request)
            if viewer is None:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                if request.method != "GET":
                    target = request.headers.get("referer", "/")
                    target = urlparse(target).path or "/"
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            form: FormData | None = None
            if request.method == "POST":
                form = await request.form()
                if not same_token(viewer.csrf, form_text(form, "csrf")):
                    return self.error_page(
                        request,
                        viewer,
                        403,
                        "This form has expired",
                        "Go back, reload the page and try again. (The form's security token "
                        "did not match your session.)",
                    )
            try:
                return await run_in_threadpool(handler, request, viewer, form)
            except AndonError as exc:
                if exc.http_status >= 500:
                    log.warning("%s %s failed: %s", request.method, request.url.path, exc)
                return self.error_page(
                    request, viewer, exc.http_status, _error_title(exc.http_status), exc.message
                )

        return endpoint

    def api(
        self, handler: Callable[[Request, str, Any], Any], status_code: int = 200
    ) -> Callable[[Request], Awaitable[Response]]:
        """A JSON endpoint: bearer API token, or a console session (+ X-CSRF-Token to change)."""

        async def endpoint(request: Request) -> Response:
            try:
                actor = self.api_actor(request)
                body: Any = None
                if request.method in ("POST", "PUT", "PATCH"):
                    raw = await request.body()
                    if raw:
                        try:
                            body = json.loads(raw)
                        except ValueError:
                            return JSONResponse(
                                {"error": "the request body is not valid JSON", "field": "body"},
                                400,
                            )
                    if body is not None and not isinstance(body, dict):
                        return JSONResponse(
                            {"error": "the request body must be a JSON object", "field": "body"},
                            400,
                        )
                result = await run_in_threadpool(handler, request, actor, body or {})
            except AndonError as exc:
                payload: dict[str, Any] = {"error": exc.message}
                if getattr(exc, "field", None):
                    payload["field"] = exc.field  # type: ignore[attr-defined]
                headers = (
                    {"WWW-Authenticate": 'Bearer realm="andon"'} if exc.http_status == 401 else {}
                )
                return JSONResponse(payload, exc.http_status, headers=headers)
            if isinstance(result, Response):
                return result
            return JSONResponse(_jsonable(result), status_code)

        return endpoint

    def api_actor(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("use 'Authorization: Bearer <token>'")
            name = api_token_name(self.settings, token.strip())
            if name is None:
                raise AuthError("unknown API token")
            return f"api:{name}"
        viewer = self.viewer(request)
        if viewer is None:
            raise AuthError(
                "sign in to the console or send 'Authorization: Bearer <token>' "
                "(create one with `andon console new-token NAME`)"
            )
        if request.method not in ("GET", "HEAD") and not same_token(
            viewer.csrf, request.headers.get("x-csrf-token")
        ):
            raise AuthError("missing or wrong X-CSRF-Token header for a console session")
        return viewer.actor


def form_text(form: FormData | None, name: str) -> str:
    """A form field as stripped text ('' when missing or a file)."""
    if form is None:
        return ""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _error_title(status: int) -> str:
    return {
        400: "That did not work",
        401: "Please sign in",
        403: "Not allowed",
        404: "Not found",
        409: "That is not possible right now",
        503: "The warehouse is not available",
    }.get(status, "Something went wrong")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def redirect(path: str, flash: str = "", kind: str = "ok") -> RedirectResponse:
    """303 to ``path`` with a one-line message shown at the top of the next page."""
    if flash:
        sep = "&" if "?" in path else "?"
        path = f"{path}{sep}flash={quote(flash)}&flash_kind={kind}"
    return RedirectResponse(path, status_code=303)
