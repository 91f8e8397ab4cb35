"""Zendesk pulls against a local stand-in serving the documented incremental-export pages."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr

from errors import AuthError
from ingest import zendesk
from ingest.collectors_config import CollectorsSettings
from warehouse import Warehouse

EMAIL, TOKEN = "agent@acme.test", "zd-token-123"


def _ticket(tid: int, updated: str, status: str = "open", body: str = "It broke") -> dict[str, Any]:
    return {
        "url": f"https://acme.zendesk.com/api/v2/tickets/{tid}.json",
        "id": tid,
        "created_at": "2026-03-01T08:00:00Z",
        "updated_at": updated,
        "type": "incident",
        "subject": f"Checkout problem {tid}",
        "raw_subject": f"Checkout problem {tid}",
        "description": body,
        "priority": "high",
        "status": status,
        "requester_id": 900 + tid,
        "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
        "tags": ["checkout"],
        "custom_fields": [{"id": 360001, "value": f"sess-{tid}"}],
    }


PAGES: dict[str, dict[str, Any]] = {
    "start": {
        "tickets": [_ticket(1, "2026-03-01T09:00:00Z", body="Call me at +1 415 555 2671"), _ticket(2, "2026-03-01T09:05:00Z")],
        "users": [{"id": 901, "email": "ann@example.com", "external_id": "u-1"}],
        "after_url": "…", "after_cursor": "MTU3NjYxMzUzOS4wfHw0Njd8", "before_cursor": None,
        "end_of_stream": False,
    },
    "MTU3NjYxMzUzOS4wfHw0Njd8": {
        "tickets": [_ticket(3, "2026-03-01T10:00:00Z"), _ticket(1, "2026-03-01T11:00:00Z", status="solved", body="Call me at +1 415 555 2671"), {"id": 4, "created_at": "bad"}],
        "users": [],
        "after_cursor": "MTU3NjYxMzUzOS4wfHw0NjhB", "before_cursor": "x",
        "end_of_stream": True,
    },
    "MTU3NjYxMzUzOS4wfHw0NjhB": {
        "tickets": [], "users": [], "after_cursor": "MTU3NjYxMzUzOS4wfHw0NjhB", "end_of_stream": True,
    },
}  # fmt: skip


class StandIn(ThreadingHTTPServer):
    requests: list[dict[str, list[str]]]
    throttle_once: bool


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        expected = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._send(401, {"error": "Couldn't authenticate you"})
            return
        if url.path != "/api/v2/incremental/tickets/cursor.json":
            self._send(404, {"error": "InvalidEndpoint"})
            return
        query = parse_qs(url.query)
        self.server.requests.append(query)
        if self.server.throttle_once:
            self.server.throttle_once = False
            self._send(429, {"error": "rate limited"}, {"Retry-After": "7"})
            return
        if "cursor" in query:
            page = PAGES.get(query["cursor"][0])
        elif "start_time" in query and query["start_time"][0].isdigit():
            page = PAGES["start"]
        else:
            page = None
        if page is None:
            self._send(400, {"error": "InvalidCursor"})
            return
        self._send(200, page)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn(("127.0.0.1", 0), Handler)
    server.requests, server.throttle_once = [], False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _settings(server: StandIn, token: str = TOKEN) -> CollectorsSettings:
    return CollectorsSettings(
        zendesk_url=f"http://127.0.0.1:{server.server_address[1]}",
        zendesk_email=EMAIL,
        zendesk_token=SecretStr(token),
        zendesk_session_field=360001,
        email_hash_salt=SecretStr("salt"),
    )


def test_pull_pages_resumes_from_stored_cursor(stand_in: StandIn, warehouse: Warehouse) -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    report = zendesk.pull(warehouse, _settings(stand_in), now=lambda: now)
    assert (report.stored, report.duplicates) == (4, 0)  # 3 tickets + the later version of #1
    assert [r.field for r in report.rejected] == ["tickets[2].created_at"]
    assert "page 2" in report.rejected[0].file
    first = stand_in.requests[0]
    assert int(first["start_time"][0]) == int(datetime(2026, 1, 31, tzinfo=UTC).timestamp())
    assert first["include"] == ["users"]
    assert stand_in.requests[1]["cursor"] == ["MTU3NjYxMzUzOS4wfHw0Njd8"]

    table = warehouse.table("andon_support_tickets")
    latest = warehouse.rows(
        f"SELECT TicketId, argMax(Status, (UpdatedAt, IngestedAt)), any(SessionId), max(Body) "
        f"FROM {table} GROUP BY TicketId ORDER BY TicketId"
    )
    assert latest[0] == ("1", "solved", "sess-1", "Call me at [phone]")
    assert [r[0] for r in latest] == ["1", "2", "3"]
    assert (
        warehouse.scalar(f"SELECT UserId FROM {table} WHERE TicketId = '1' AND Status = 'open'")
        == "u-1"
    )

    stand_in.requests.clear()
    again = zendesk.pull(warehouse, _settings(stand_in), now=lambda: now)
    assert stand_in.requests == [{"cursor": ["MTU3NjYxMzUzOS4wfHw0NjhB"], "include": ["users"]}]
    assert (again.stored, again.rejected) == (0, [])


def test_pull_honours_rate_limit_and_rejects_bad_credentials(
    stand_in: StandIn, warehouse: Warehouse
) -> None:
    waits: list[float] = []
    stand_in.throttle_once = True
    report = zendesk.pull(warehouse, _settings(stand_in), sleep=waits.append)
    assert waits == [7.0] and report.stored == 4
    with pytest.raises(AuthError):
        zendesk.pull(warehouse, _settings(stand_in, token="wrong"), start_time=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
