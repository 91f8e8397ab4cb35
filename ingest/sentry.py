"""The Sentry ingestion protocol: apps using official Sentry SDKs only change their DSN.

DSN ``http://<key>@<andon host>:4318/<project id>``. The SDKs send either envelopes
(``POST /api/<project>/envelope/``: a JSON header line, then items each with a JSON header and a
payload, ``length`` bytes long or up to the next newline) or, older ones, single events
(``POST /api/<project>/store/``). The key comes from ``X-Sentry-Auth: Sentry sentry_key=...``,
the ``sentry_key`` query parameter, or the envelope header's ``dsn``. Only error events are kept
(``event`` items with an exception, or a message at level error/fatal); transactions, sessions,
client reports and attachments are accepted and dropped, as a Sentry relay does for features it
does not serve.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from errors import AuthError, InputError
from ingest import fields
from ingest.collectors_config import CollectorsSettings, SentryProject
from ingest.errors import ErrorEvent
from ingest.fingerprint import Frame

ERROR_LEVELS = ("error", "fatal")


def parse_auth_header(header: str) -> dict[str, str]:
    """``Sentry sentry_key=abc, sentry_version=7`` -> ``{"sentry_key": "abc", ...}``."""
    text = header.strip()
    if text.lower().startswith("sentry "):
        text = text[len("sentry ") :]
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            pairs[key.strip()] = value.strip()
    return pairs


def check_key(settings: CollectorsSettings, project_id: str, given: str | None) -> SentryProject:
    """The project if ``given`` is its public key; `AuthError` otherwise (constant time)."""
    project = settings.sentry_projects.get(project_id)
    if not given:
        raise AuthError("missing Sentry key: send X-Sentry-Auth with sentry_key")
    expected = project.key.get_secret_value() if project else "\x00no-such-project"
    if not hmac.compare_digest(given.encode(), expected.encode()) or project is None:
        raise AuthError(f"unknown Sentry key for project {project_id!r}")
    return project


def key_from_dsn(dsn: str) -> str | None:
    """The public key of a DSN (``http://KEY@host/1``)."""
    try:
        return urlparse(dsn).username
    except ValueError:
        return None


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Split an envelope into its header and its (item header, payload) pairs."""
    newline = body.find(b"\n")
    head_raw = body if newline < 0 else body[:newline]
    header = _json_object(head_raw, "envelope header")
    pos = len(body) if newline < 0 else newline + 1
    items: list[tuple[dict[str, Any], bytes]] = []
    while pos < len(body):
        end = body.find(b"\n", pos)
        line = body[pos : len(body) if end < 0 else end]
        pos = len(body) if end < 0 else end + 1
        if not line.strip():
            continue
        item_header = _json_object(line, f"item {len(items)} header")
        length = item_header.get("length")
        if length is not None:
            if not isinstance(length, int) or length < 0 or pos + length > len(body):
                raise InputError("item length runs past the end of the envelope", field="length")
            payload = body[pos : pos + length]
            pos += length
            if pos < len(body) and body[pos : pos + 1] == b"\n":
                pos += 1
        else:
            end = body.find(b"\n", pos)
            payload = body[pos : len(body) if end < 0 else end]
            pos = len(body) if end < 0 else end + 1
        items.append((item_header, payload))
    return header, items


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"{what} is not valid JSON: {exc}", field=what) from exc
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object", field=what)
    return value


def events_from_envelope(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The envelope header and its ``event`` items' payloads."""
    header, items = parse_envelope(body)
    events = [
        _json_object(payload, f"item {i} payload")
        for i, (item_header, payload) in enumerate(items)
        if item_header.get("type") == "event"
    ]
    return header, events


def is_error(event: Mapping[str, Any]) -> bool:
    """An event andon stores: it has an exception, or is a message at level error/fatal."""
    if _exception_values(event):
        return True
    return str(event.get("level", "error")).lower() in ERROR_LEVELS and bool(_message(event))


def _exception_values(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    exc = event.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc
    return [v for v in values or [] if isinstance(v, dict)] if isinstance(values, list) else []


def _message(event: Mapping[str, Any]) -> str:
    logentry = event.get("logentry") or event.get("message")
    if isinstance(logentry, dict):
        return str(logentry.get("formatted") or logentry.get("message") or "")
    return str(logentry or "")


def _frames(value: Mapping[str, Any]) -> tuple[Frame, ...]:
    stack = value.get("stacktrace")
    raw = stack.get("frames") if isinstance(stack, dict) else None
    frames = []
    for f in raw or []:
        if not isinstance(f, dict):
            continue
        in_app = f.get("in_app")
        frames.append(
            Frame(
                filename=str(f.get("abs_path") or f.get("filename") or ""),
                function=str(f.get("function") or ""),
                module=str(f.get("module") or ""),
                lineno=f.get("lineno") if isinstance(f.get("lineno"), int) else None,
                in_app=in_app if isinstance(in_app, bool) else None,
                context=str(f.get("context_line") or ""),
            )
        )
    return tuple(frames)


def _stack_text(exception_type: str, message: str, frames: tuple[Frame, ...]) -> str:
    """A readable Python-style rendering of structured frames (stored for people to read)."""
    if not frames:
        return ""
    lines = ["Traceback (most recent call last):"]
    for f in frames:
        lines.append(f'  File "{f.filename or f.module}", line {f.lineno or 0}, in {f.function}')
    lines.append(f"{exception_type}: {message}")
    return "\n".join(lines)


def to_error_event(event: Mapping[str, Any], project_id: str, project: SentryProject) -> ErrorEvent:
    """Map one Sentry event payload to an `ErrorEvent` (`InputError` names a bad field)."""
    event_id = fields.text(event, "event_id", limit=64).replace("-", "")
    if not event_id:
        raise InputError("missing required value", field="event_id")
    timestamp = fields.time_field(event, "timestamp", required=True)
    assert timestamp is not None
    values = _exception_values(event)
    if values:
        main = values[-1]  # Sentry lists the chain oldest first; the last one was raised
        etype = str(main.get("type") or "Error")
        module = str(main.get("module") or "")
        if module and module not in ("builtins", "exceptions", "__main__"):
            etype = f"{module}.{etype}"
        message = str(main.get("value") or "")
        frames = _frames(main)
    else:
        etype, message, frames = "", _message(event), ()
    tags = _tags(event.get("tags"))
    contexts = _object(event.get("contexts"))
    trace = _object(contexts.get("trace"))
    user = _object(event.get("user"))
    request = _object(event.get("request"))
    grouping = event.get("fingerprint")
    sdk = _object(event.get("sdk"))
    route = str(event.get("transaction") or "") or urlparse(str(request.get("url") or "")).path
    service = project.service or tags.get("service.name") or tags.get("service") or f"sentry-{project_id}"  # fmt: skip
    return ErrorEvent(
        timestamp=timestamp,
        error_id=event_id,
        source="sentry",
        exception_type=etype,
        message=message,
        stacktrace=_stack_text(etype, message, frames),
        service=service,
        version=str(event.get("release") or ""),
        environment=str(event.get("environment") or ""),
        trace_id=str(trace.get("trace_id") or ""),
        span_id=str(trace.get("span_id") or ""),
        session_id=tags.get("session.id") or tags.get("session_id") or "",
        user_id=str(user.get("id") or "") or tags.get("enduser.id", ""),
        route=route,
        frames=frames if values else None,
        grouping=tuple(str(g) for g in grouping) if isinstance(grouping, list) else (),
        attributes={
            k: v
            for k, v in {
                "sentry.project": project_id,
                "sentry.level": str(event.get("level") or ""),
                "sentry.platform": str(event.get("platform") or ""),
                "sentry.sdk": f"{sdk.get('name', '')}/{sdk.get('version', '')}".strip("/"),
                "sentry.logger": str(event.get("logger") or ""),
            }.items()
            if v
        },
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):  # [[key, value], ...] is also valid
        return {str(p[0]): str(p[1]) for p in raw if isinstance(p, list | tuple) and len(p) == 2}
    return {}
