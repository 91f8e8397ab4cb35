"""Reviewing through the pages and the JSON API, on the simulated warehouse: every change is
recorded under the person or token that made it; bad input names its field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.app import console_routes
from rca import service as rca
from tests.console.conftest import API_TOKEN, Context, console_settings, csrf_of, sign_in
from tests.console.demo_data import DemoData, shared_demo
from ticketing import service as tickets

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def demo(engine_dir: Path) -> DemoData:
    return shared_demo(engine_dir)


@pytest.fixture
def client(demo: DemoData) -> Iterator[TestClient]:
    ctx = Context(console_settings(demo.settings), demo.warehouse)
    with TestClient(Starlette(routes=console_routes(ctx)), base_url="http://127.0.0.1") as c:
        yield c


def _waiting(demo: DemoData) -> list[str]:
    return [
        t.id for t in tickets.list_tickets(demo.warehouse) if t.status in ("proposed", "edited")
    ]


def test_queue_filters(client: TestClient, demo: DemoData) -> None:
    sign_in(client)
    page = client.get("/tickets")
    assert page.status_code == 200
    for ticket_id in _waiting(demo):
        assert f'data-ticket="{ticket_id}"' in page.text
    p2 = client.get("/tickets?status=&priority=P2").text
    for ticket in tickets.list_tickets(demo.warehouse):
        assert (f'data-ticket="{ticket.id}"' in p2) == (ticket.priority == "P2")
    assert client.get("/tickets?priority=P9").status_code == 400
    assert client.get("/tickets?kind=nonsense").status_code == 400
    assert client.get("/tickets/TKT-missing").status_code == 404


def test_reject_needs_a_reason_and_records_who(client: TestClient, demo: DemoData) -> None:
    sign_in(client)
    ticket_id = _waiting(demo)[-1]
    page = client.get(f"/tickets/{ticket_id}")
    csrf = csrf_of(page.text)
    refused = client.post(f"/tickets/{ticket_id}/reject", data={"csrf": csrf, "reason": " "})
    assert refused.status_code == 400 and "say why you reject" in refused.text
    done = client.post(
        f"/tickets/{ticket_id}/reject",
        data={"csrf": csrf, "reason": "duplicate of an open bug"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    event = tickets.history(demo.warehouse, ticket_id)[-1]
    assert (event.action, event.actor, event.reason) == (
        "rejected", "maria", "duplicate of an open bug",
    )  # fmt: skip
    again = client.post(f"/tickets/{ticket_id}/approve", data={"csrf": csrf})
    assert again.status_code == 409  # a rejected ticket cannot be approved


def test_edit_puts_it_back_in_review(client: TestClient, demo: DemoData) -> None:
    sign_in(client)
    ticket_id = _waiting(demo)[0]
    before = tickets.get_ticket(demo.warehouse, ticket_id)
    csrf = csrf_of(client.get(f"/tickets/{ticket_id}").text)
    response = client.post(
        f"/tickets/{ticket_id}/edit",
        data={"csrf": csrf, "title": before.title + " (checked)", "priority": before.priority,
              "reason": "clearer title"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    after = tickets.get_ticket(demo.warehouse, ticket_id)
    assert after.title.endswith("(checked)") and after.status == "edited"
    assert tickets.history(demo.warehouse, ticket_id)[-1].actor == "maria"


def test_ticket_api(client: TestClient, demo: DemoData) -> None:
    listed = client.get("/api/v1/tickets?status=edited", headers=AUTH)
    assert listed.status_code == 200
    detail = client.get(f"/api/v1/tickets/{_waiting(demo)[0]}", headers=AUTH).json()
    assert detail["ticket"]["evidence"] and detail["history"]
    missing_reason = client.post(
        f"/api/v1/tickets/{_waiting(demo)[0]}/reject", json={}, headers=AUTH
    )
    assert missing_reason.status_code == 400 and missing_reason.json()["field"] == "reason"
    bad_edit = client.post(
        f"/api/v1/tickets/{_waiting(demo)[0]}/edit", json={"changes": []}, headers=AUTH
    )
    assert bad_edit.status_code == 400 and bad_edit.json()["field"] == "changes"
    assert client.get("/api/v1/tickets?status=nope", headers=AUTH).status_code == 400


def test_incident_api_declare_and_resolve(client: TestClient, demo: DemoData) -> None:
    listed = client.get("/api/v1/incidents", headers=AUTH).json()["incidents"]
    assert listed and listed[0]["suspects"]
    service = listed[0]["service"]
    since = (demo.until.replace(minute=0) - (demo.until - demo.since) / 4).isoformat()
    declared = client.post(
        "/api/v1/incidents",
        json={"service": service, "since": since, "note": "customers report slowness"},
        headers=AUTH,
    )
    assert declared.status_code == 201, declared.text
    incident_id = declared.json()["id"]
    incident = rca.get_incident(demo.warehouse, incident_id)
    assert incident.source == "declared" and incident.declared_by == "api:ci"
    bad = client.post("/api/v1/incidents", json={"service": service}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["field"] == "since"
    no_note = client.post(f"/api/v1/incidents/{incident_id}/resolve", json={}, headers=AUTH)
    assert no_note.status_code == 400 and no_note.json()["field"] == "note"
    resolved = client.post(
        f"/api/v1/incidents/{incident_id}/resolve", json={"note": "false alarm"}, headers=AUTH
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    twice = client.post(
        f"/api/v1/incidents/{incident_id}/resolve", json={"note": "again"}, headers=AUTH
    )
    assert twice.status_code == 409


def test_friction_page_and_api(client: TestClient, demo: DemoData) -> None:
    sign_in(client)
    flows = client.get("/api/v1/flows", headers=AUTH).json()
    flow = flows["flows"][0]
    steps = flows["steps"]
    assert [s["step"] for s in steps] == flow["steps"]
    assert steps[0]["sessions"] >= steps[-1]["sessions"] > 0
    attribute = flows["segment_attributes"][0]
    by = client.get(f"/api/v1/flows?by={attribute}", headers=AUTH).json()["by_segment"]
    assert by and sum(s["sessions"] for s in by) <= demo.warehouse.scalar(
        f"SELECT uniqExact(SpanAttributes['session.id']) FROM {demo.warehouse.table('otel_traces')}"
    )
    page = client.get(f"/friction?by={attribute}")
    assert page.status_code == 200 and 'id="segments"' in page.text
    assert client.get("/friction?flow=nope").status_code == 400
    assert client.get("/friction?by=nope").status_code == 400
