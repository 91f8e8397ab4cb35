"""Pull support tickets from Zendesk's cursor-based incremental export API.

``GET {zendesk_url}/api/v2/incremental/tickets/cursor.json?start_time=<unix>&include=users`` the
first time, then ``?cursor=<after_cursor>`` until a page says ``end_of_stream``. Auth is API
token basic auth (``{email}/token:{token}``). Each page is validated and stored whole, then its
``after_cursor`` is appended to ``andon_collector_cursors``, so an interrupted pull resumes at
the last stored page and the next scheduled pull picks up only what changed. Tickets are
stored with source ``zendesk``, idempotently (an edited ticket adds a version).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from errors import AndonError, AuthError, ConfigError
from ingest import tickets
from ingest.collectors_config import CollectorsSettings
from ingest.report import IngestReport
from warehouse import Warehouse

CURSOR_TABLE = "andon_collector_cursors"
EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"


class ZendeskError(AndonError):
    """Zendesk answered with an error we cannot continue after."""

    http_status = 502


def collector_name(base_url: str) -> str:
    return f"zendesk:{base_url.rstrip('/')}"


def last_cursor(wh: Warehouse, collector: str) -> str | None:
    """Where the previous pull stopped (None before the first pull)."""
    value = wh.scalar(
        f"SELECT argMax(Cursor, UpdatedAt) FROM {wh.table(CURSOR_TABLE)} "
        "WHERE Collector = {c:String} HAVING count() > 0",
        {"c": collector},
    )
    return str(value) if value else None


def save_cursor(wh: Warehouse, collector: str, cursor: str, stored: int, at: datetime) -> None:
    wh.insert(
        CURSOR_TABLE,
        [(collector, cursor, at.astimezone(UTC).replace(tzinfo=None), stored, "")],
        ["Collector", "Cursor", "UpdatedAt", "Stored", "Note"],
    )


def pull(
    warehouse: Warehouse,
    settings: CollectorsSettings,
    *,
    start_time: datetime | None = None,
    client: httpx.Client | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> IngestReport:
    """Fetch every page since the stored cursor (or ``start_time``) and store its tickets.

    ``start_time`` forces a fresh start from that moment, ignoring the stored cursor.
    """
    if not settings.zendesk_url or not settings.zendesk_email or settings.zendesk_token is None:
        raise ConfigError(
            "Zendesk pulls need collectors.zendesk_url, zendesk_email and zendesk_token"
        )
    base = settings.zendesk_url.rstrip("/")
    collector = collector_name(base)
    privacy = tickets.Privacy.from_settings(settings)
    report = IngestReport(source="zendesk")
    cursor = None if start_time is not None else last_cursor(warehouse, collector)
    params: dict[str, Any]
    if cursor:
        params = {"cursor": cursor}
    else:
        start = start_time or now() - timedelta(days=settings.zendesk_initial_days)
        params = {"start_time": int(start.timestamp())}
    auth = (f"{settings.zendesk_email}/token", settings.zendesk_token.get_secret_value())
    own = client is None
    http = client or httpx.Client(timeout=60)
    try:
        for page_number in range(1, settings.zendesk_max_pages + 1):
            page = _get(http, f"{base}{EXPORT_PATH}", {**params, "include": "users"}, auth, sleep)
            where = f"{base}{EXPORT_PATH} page {page_number}"
            found, rejected = tickets.validate(
                tickets.read_zendesk_pages([page], settings.zendesk_session_field),
                file=where,
                source="zendesk",
                privacy=privacy,
            )
            stored, duplicates = tickets.store(warehouse, found)
            report.stored += stored
            report.duplicates += duplicates
            report.rejected += rejected
            after = page.get("after_cursor")
            if after:
                save_cursor(warehouse, collector, str(after), stored, now())
                params = {"cursor": after}
            if page.get("end_of_stream") or not after:
                break
    finally:
        if own:
            http.close()
    return report


def _get(
    http: httpx.Client,
    url: str,
    params: dict[str, Any],
    auth: tuple[str, str],
    sleep: Callable[[float], None],
    attempts: int = 4,
) -> dict[str, Any]:
    for attempt in range(attempts):
        try:
            response = http.get(url, params=params, auth=auth)
        except httpx.HTTPError as exc:
            raise ZendeskError(f"cannot reach Zendesk at {url}: {exc}") from exc
        if response.status_code == 429 and attempt + 1 < attempts:
            # Zendesk rate limits say how long to wait; honour it (capped, so a pull ends).
            sleep(min(float(response.headers.get("retry-after", "10") or 10), 120.0))
            continue
        if response.status_code in (401, 403):
            raise AuthError(f"Zendesk refused the credentials ({response.status_code})")
        if response.status_code != 200:
            raise ZendeskError(f"Zendesk answered {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ZendeskError("Zendesk answered with something that is not JSON") from exc
        if not isinstance(data, dict):
            raise ZendeskError("Zendesk answered with an unexpected JSON shape")
        return data
    raise ZendeskError("Zendesk kept rate-limiting the export; try again later")
