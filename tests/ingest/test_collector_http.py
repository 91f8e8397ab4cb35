"""The collector endpoints through the real server, real sentry-sdk and GitHub-shaped payloads."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from pydantic import SecretStr

from ingest.collectors_config import CollectorsSettings, SentryProject
from ingest.github import sign
from server.runtime import RunningServer, start_server
from settings import Settings
from warehouse import Warehouse

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "It's a Secret to Everybody"
TICKETS_TOKEN = "tickets-token-1"


@pytest.fixture
def server(settings: Settings, warehouse: Warehouse) -> Iterator[RunningServer]:
    configured = settings.model_copy(
        update={
            "collectors": CollectorsSettings(
                sentry_projects={"42": SentryProject(key=SecretStr(KEY), service="shop-api")},
                github_webhook_secret=SecretStr(SECRET),
                tickets_token=SecretStr(TICKETS_TOKEN),
                max_body_bytes=64 * 1024,
            )
        }
    )
    with start_server(configured, warehouse, ingest_port=0, console_port=0) as running:
        yield running


def _errors(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.rows(
        f"SELECT ExceptionType, ExceptionMessage, Fingerprint, ServiceName, ServiceVersion, "
        f"Environment, TraceId, UserId, SessionId, Culprit, Source "
        f"FROM {wh.table('andon_errors')} ORDER BY Timestamp"
    )


def _lookup_price(sku: str) -> int:
    prices = {"sku-1": 10}
    return prices[sku]


def _divide(a: int, b: int) -> float:
    return a / b


def _sentry(dsn: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        release="shop-api@1.4.2",
        environment="production",
        default_integrations=False,
    )
    sentry_sdk.set_user({"id": "user-77"})
    sentry_sdk.set_tag("session.id", "sess-abc")


def test_official_sentry_sdk_events_arrive_grouped(
    server: RunningServer, warehouse: Warehouse
) -> None:
    host = server.ingest_url.split("://", 1)[1]
    _sentry(f"http://{KEY}@{host}/42")
    try:
        for sku in ("sku-2", "sku-9"):  # same bug, different data
            try:
                _lookup_price(sku)
            except KeyError as exc:
                sentry_sdk.capture_exception(exc)
        try:
            _divide(1, 0)  # a different bug
        except ZeroDivisionError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to a disabled client
    rows = _errors(warehouse)
    assert len(rows) == 3
    first, second, third = rows
    assert first[0] == "KeyError" and "sku-2" in first[1]
    assert first[2] == second[2] != third[2]
    assert third[0] == "ZeroDivisionError"
    assert first[3:6] == ("shop-api", "shop-api@1.4.2", "production")
    assert len(first[6]) == 32  # the SDK's trace id (propagation context)
    assert first[7:9] == ("user-77", "sess-abc")
    assert first[9].endswith("in _lookup_price")
    assert first[10] == "sentry"


def test_sentry_wrong_key_stores_nothing(server: RunningServer, warehouse: Warehouse) -> None:
    host = server.ingest_url.split("://", 1)[1]
    _sentry(f"http://{'f' * 32}@{host}/42")
    try:
        try:
            _divide(1, 0)
        except ZeroDivisionError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()
    event = {"event_id": "a" * 32, "timestamp": 1767225600.0, "exception": {"values": [{"type": "E", "value": "x"}]}}  # fmt: skip
    url = f"{server.ingest_url}/api/42/store/"
    bad = httpx.post(
        url, json=event, headers={"X-Sentry-Auth": "Sentry sentry_key=nope, sentry_version=7"}
    )
    missing = httpx.post(url, json=event)
    other_project = httpx.post(f"{server.ingest_url}/api/7/store/?sentry_key={KEY}", json=event)
    assert (bad.status_code, missing.status_code, other_project.status_code) == (401, 401, 401)
    assert _errors(warehouse) == []


def test_sentry_store_endpoint_gzip_and_bad_input(
    server: RunningServer, warehouse: Warehouse
) -> None:
    event = {
        "event_id": "b" * 32,
        "timestamp": "2026-03-01T10:00:00Z",
        "level": "error",
        "platform": "javascript",
        "release": "web@2.0.0",
        "exception": {"values": [{"type": "TypeError", "value": "Cannot read properties of undefined (reading 'id')", "stacktrace": {"frames": [{"filename": "app:///static/js/main.3f9a2b.js", "function": "renderCart", "lineno": 2, "in_app": True}]}}]},
    }  # fmt: skip
    url = f"{server.ingest_url}/api/42/store/?sentry_key={KEY}"
    ok = httpx.post(url, content=gzip.compress(json.dumps(event).encode()), headers={"Content-Encoding": "gzip"})  # fmt: skip
    assert ok.status_code == 200 and ok.json() == {"id": "b" * 32}
    again = httpx.post(url, json=event)
    assert again.status_code == 200
    legacy = base64.b64encode(zlib.compress(json.dumps(event).encode()))  # raven's encoding
    assert httpx.post(url, content=legacy).status_code == 200
    assert len(_errors(warehouse)) == 1  # the same event three times is one error

    bad = httpx.post(url, json={**event, "event_id": "c" * 32, "timestamp": "soon"})
    assert bad.status_code == 400 and bad.json()["field"] == "timestamp"
    envelope = httpx.post(f"{server.ingest_url}/api/42/envelope/?sentry_key={KEY}", content=b'{"event_id":"x"}\n{"type":"event","length":999}\n{}')  # fmt: skip
    assert envelope.status_code == 400 and envelope.json()["field"] == "length"
    huge = httpx.post(url, content=b"x" * (65 * 1024))
    assert huge.status_code == 413
    bomb = httpx.post(url, content=gzip.compress(b" " * (1024 * 1024)), headers={"Content-Encoding": "gzip"})  # fmt: skip
    assert bomb.status_code == 413
    assert len(_errors(warehouse)) == 1


# -- GitHub webhooks, in the shapes GitHub documents -------------------------------------------

REPO = {"id": 1296269, "name": "shop", "full_name": "acme/shop", "owner": {"login": "acme"}}

PR_MERGED = {
    "action": "closed",
    "number": 412,
    "pull_request": {
        "number": 412, "state": "closed", "title": "Validate postcodes on the server",
        "user": {"login": "dana"}, "merged": True, "merged_at": "2026-03-01T09:00:00Z",
        "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6",
        "html_url": "https://github.com/acme/shop/pull/412", "labels": [{"name": "checkout"}],
    },
    "repository": REPO,
}  # fmt: skip

DEPLOYMENT = {
    "action": "created",
    "deployment": {
        "id": 145988746, "sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6", "ref": "main",
        "environment": "production", "created_at": "2026-03-01T10:00:00Z",
        "payload": {"service": "checkout", "version": "1.4.0"},
    },
    "repository": REPO,
}  # fmt: skip

DEPLOYMENT_STATUS = {
    "action": "created",
    "deployment_status": {"id": 1, "state": "success", "created_at": "2026-03-01T10:04:00Z", "updated_at": "2026-03-01T10:04:00Z"},
    "deployment": DEPLOYMENT["deployment"],
    "repository": REPO,
}  # fmt: skip

CHECK_RUN: dict[str, Any] = {
    "action": "completed",
    "check_run": {
        "id": 128620228, "name": "perf-gate", "head_sha": "ce587453ced02b1526dfb4cb910479d431683101",
        "status": "completed", "conclusion": "success", "started_at": "2026-03-01T08:50:00Z",
        "completed_at": "2026-03-01T08:55:00Z",
        "output": {"title": "k6 smoke", "summary": "p95_ms: 182.5 ms\nerror_rate: 0.002", "text": "```json\n{\"checkout_p99_ms\": 410}\n```"},
        "pull_requests": [{"number": 412, "head": {"sha": "ce58"}, "base": {"sha": "aaaa"}}],
    },
    "repository": REPO,
}  # fmt: skip


def _hook(
    server: RunningServer, event: str, payload: dict[str, Any], signature: str | None = "good"
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "Content-Type": "application/json",
        "X-GitHub-Delivery": "72d3162e",
    }
    if signature == "good":
        headers["X-Hub-Signature-256"] = sign(SECRET, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(f"{server.ingest_url}/v1/github", content=body, headers=headers)


def _count(wh: Warehouse, table: str) -> int:
    return int(wh.scalar(f"SELECT count() FROM {wh.table(table)}"))


def test_github_webhooks(server: RunningServer, warehouse: Warehouse) -> None:
    assert _hook(server, "pull_request", PR_MERGED).json() == {"stored": 1, "duplicates": 0}
    assert _hook(server, "pull_request", PR_MERGED).json() == {"stored": 0, "duplicates": 1}
    assert _hook(server, "deployment", DEPLOYMENT).status_code == 200
    assert _hook(server, "deployment_status", DEPLOYMENT_STATUS).status_code == 200
    assert _hook(server, "check_run", CHECK_RUN).status_code == 200
    opened = {**PR_MERGED, "action": "opened"}
    assert _hook(server, "pull_request", opened).status_code == 202
    assert (
        _hook(server, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1}).status_code
        == 200
    )

    pr = warehouse.rows(
        f"SELECT Repo, Number, Author, Labels, Source FROM {warehouse.table('andon_pull_requests')}"
    )
    assert pr == [("acme/shop", 412, "dana", ["checkout"], "github")]
    dep = warehouse.rows(
        f"SELECT DeploymentId, Service, Version, Status, FinishedAt IS NOT NULL FROM {warehouse.table('andon_deployments')} FINAL"
    )
    assert dep == [("github:acme/shop:145988746", "checkout", "1.4.0", "success", True)]
    gate = warehouse.rows(
        f"SELECT Gate, Verdict, PrNumber, Measurements FROM {warehouse.table('andon_gate_verdicts')}"
    )
    assert gate == [
        ("perf-gate", "pass", 412, {"p95_ms": 182.5, "error_rate": 0.002, "checkout_p99_ms": 410.0})
    ]


def test_github_bad_or_missing_signature_stores_nothing(
    server: RunningServer, warehouse: Warehouse
) -> None:
    wrong = sign("another secret", json.dumps(PR_MERGED).encode())
    for signature in (None, wrong, "sha256=", "sha1=abc"):
        response = _hook(server, "pull_request", PR_MERGED, signature)
        assert response.status_code == 401, signature
    tampered_body = json.dumps({**PR_MERGED, "number": 413}).encode()
    response = httpx.post(
        f"{server.ingest_url}/v1/github",
        content=tampered_body,
        headers={
            "X-GitHub-Event": "pull_request",
            "X-Hub-Signature-256": sign(SECRET, json.dumps(PR_MERGED).encode()),
        },
    )
    assert response.status_code == 401
    assert _count(warehouse, "andon_pull_requests") == 0

    broken = {**CHECK_RUN, "check_run": {**CHECK_RUN["check_run"], "completed_at": "not a time"}}
    response = _hook(server, "check_run", broken)
    assert response.status_code == 400 and "completed_at" in response.json()["field"]


def test_tickets_webhook(server: RunningServer, warehouse: Warehouse) -> None:
    url = f"{server.ingest_url}/v1/tickets"
    auth = {"Authorization": f"Bearer {TICKETS_TOKEN}"}
    ticket = {"id": "z-1", "created_at": "2026-03-01T10:00:00Z", "subject": "Refund", "body": "email me: a.b@example.com", "session_id": "s-1"}  # fmt: skip
    assert httpx.post(url, json=ticket).status_code == 401
    assert httpx.post(url, json=ticket, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.post(url, json=ticket, headers=auth).json() == {"stored": 1, "duplicates": 0}
    assert httpx.post(url, json=ticket, headers=auth).json() == {"stored": 0, "duplicates": 1}
    batch = {"tickets": [{**ticket, "id": "z-2"}, {**ticket, "id": "z-3", "created_at": "later"}]}
    bad = httpx.post(url, json=batch, headers=auth)
    assert bad.status_code == 400 and bad.json()["field"] == "tickets[1].created_at"
    body = warehouse.rows(
        f"SELECT TicketId, Body, Source FROM {warehouse.table('andon_support_tickets')}"
    )
    assert body == [("z-1", "email me: [email]", "webhook")]  # the bad batch stored nothing
