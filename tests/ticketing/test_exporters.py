"""Exporters against local stand-ins of GitHub, Jira Cloud and Linear: auth, payload shapes,
idempotent retries (including a create whose response was lost), and the files exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from errors import AuthError, ConfigError, ConflictError
from settings import Settings
from tests.standins.trackers import TrackerStandin
from tests.ticketing.clusters import TRACES, dropoff_cluster
from ticketing import service
from ticketing.config import GitHubExport, JiraExport, LinearExport, TicketingSettings
from ticketing.drafting import draft_tickets
from ticketing.exporters import ExportError, exporter_for
from ticketing.policy import Policy
from warehouse import Warehouse

NOW = datetime(2026, 11, 21, 12, 0, 0)


@pytest.fixture
def trackers() -> Iterator[TrackerStandin]:
    with TrackerStandin() as standin:
        yield standin


def _configured(
    settings: Settings, trackers: TrackerStandin, tmp_path: Path, **wrong: str
) -> TicketingSettings:
    return settings.ticketing.model_copy(
        update={
            "export_dir": tmp_path / "exports",
            "github": GitHubExport(api_url=trackers.url, repo="acme/shop", token=SecretStr(wrong.get("github", trackers.github_token))),
            "jira": JiraExport(base_url=trackers.url, email=trackers.jira_email, api_token=SecretStr(wrong.get("jira", trackers.jira_token)), project_key="SHOP"),
            "linear": LinearExport(api_url=f"{trackers.url}/graphql", api_key=SecretStr(trackers.linear_key), team_id="team-1"),
        }
    )  # fmt: skip


def _approved(warehouse: Warehouse, settings: Settings) -> str:
    [tid] = draft_tickets(
        warehouse,
        settings.ticketing,
        Policy(),
        [dropoff_cluster()],
        run_id="r1",
        now=NOW,
        window_days=7,
    ).created
    service.approve(warehouse, tid, "alice", now=NOW)
    return tid


def test_github_issue_carries_the_evidence_and_is_created_once(
    warehouse, settings, trackers, tmp_path
):
    cfg = _configured(settings, trackers, tmp_path)
    tid = _approved(warehouse, settings)
    [result] = service.export(warehouse, cfg, tid, "github", "alice")
    assert result.created and result.external_id == "1"
    assert result.url == "https://github.com/acme/shop/issues/1"
    [issue] = trackers.issues["github"]
    ticket = service.get_ticket(warehouse, tid)
    assert issue["title"] == ticket.title
    assert set(issue["labels"]) == {"andon", "P0", "dropoff"}
    body = issue["body"]
    assert "```sql\nSELECT countIf(dropped)" in body  # the reproducing SQL
    assert TRACES[0] in body and "ZD-1042" in body
    assert "dropoff_rate <= 0.163" in body and f"<!-- andon-ticket: {tid} -->" in body
    # a retried export does not create a second issue
    [again] = service.export(warehouse, cfg, tid, "github", "alice")
    assert not again.created and again.external_id == "1"
    assert trackers.creates("github") == 1 and trackers.violations == []
    assert ticket.status == "exported" and ticket.exports[0].external_id == "1"


def test_github_lost_response_then_retry_finds_the_issue(warehouse, settings, trackers, tmp_path):
    cfg = _configured(settings, trackers, tmp_path)
    tid = _approved(warehouse, settings)
    trackers.fail_next_create_response = True
    with pytest.raises(ExportError, match="502"):
        service.export(warehouse, cfg, tid, "github", "alice")
    assert service.get_ticket(warehouse, tid).status == "approved"  # nothing recorded
    [retry] = service.export(warehouse, cfg, tid, "github", "alice")
    assert not retry.created and retry.external_id == "1"
    assert trackers.creates("github") == 1
    [event] = [e for e in service.history(warehouse, tid) if e.action == "exported"]
    assert event.details["found_existing"] is True


def test_github_wrong_token_is_an_auth_error(warehouse, settings, trackers, tmp_path):
    cfg = _configured(settings, trackers, tmp_path, github="ghp_wrong")
    tid = _approved(warehouse, settings)
    with pytest.raises(AuthError, match="GitHub rejected the credentials"):
        service.export(warehouse, cfg, tid, "github", "alice")


def test_jira_issue_is_adf_with_labels_and_idempotent(warehouse, settings, trackers, tmp_path):
    cfg = _configured(settings, trackers, tmp_path)
    tid = _approved(warehouse, settings)
    # a create that happened but was never recorded (crash after the API call) ...
    exporter_for("jira", cfg).create(service.get_ticket(warehouse, tid))
    # ... is found by its per-ticket label on the next export
    [result] = service.export(warehouse, cfg, tid, "jira", "alice")
    assert not result.created and result.external_id == "SHOP-1"
    assert result.url == f"{trackers.url}/browse/SHOP-1"
    [issue] = trackers.issues["jira"]
    fields = issue["fields"]
    assert fields["issuetype"] == {"name": "Task"} and fields["project"] == {"key": "SHOP"}
    assert f"andon-{tid.lower()}" in fields["labels"]
    blocks = fields["description"]["content"]
    code = [b for b in blocks if b["type"] == "codeBlock"]
    assert code and code[0]["attrs"]["language"] == "sql"
    assert trackers.violations == []


def test_jira_wrong_token(warehouse, settings, trackers, tmp_path):
    cfg = _configured(settings, trackers, tmp_path, jira="nope")
    tid = _approved(warehouse, settings)
    with pytest.raises(AuthError):
        service.export(warehouse, cfg, tid, "jira", "alice")


def test_linear_issue_priority_and_retry(warehouse, settings, trackers, tmp_path):
    cfg = _configured(settings, trackers, tmp_path)
    tid = _approved(warehouse, settings)
    [result] = service.export(warehouse, cfg, tid, "linear", "alice")
    assert result.created and result.external_id == "ENG-1"
    [issue] = trackers.issues["linear"]
    assert issue["priority"] == 1 and issue["teamId"] == "team-1"  # P0 -> Linear "urgent"
    assert f"andon-ticket: {tid}" in issue["description"]
    auth = [h["authorization"] for m, p, h, b in trackers.requests if p == "/graphql"]
    assert set(auth) == {trackers.linear_key}
    [again] = service.export(warehouse, cfg, tid, "linear", "alice")
    assert not again.created and trackers.creates("linear") == 1


def test_export_all_approved_to_files(warehouse, settings, tmp_path):
    cfg = settings.ticketing.model_copy(update={"export_dir": tmp_path / "out"})
    tid = _approved(warehouse, settings)
    [result] = service.export(warehouse, cfg, "approved", None, "alice")
    assert result.created and result.target == "files"
    md = (tmp_path / "out" / f"{tid}.md").read_text()
    assert md.startswith("# ") and "## Evidence" in md and "## Acceptance criteria" in md
    data = json.loads((tmp_path / "out" / f"{tid}.json").read_text())
    assert data["id"] == tid and data["status"] == "approved"
    assert service.export(warehouse, cfg, "approved", None, "alice") == []  # now exported


def test_export_needs_approval_and_settings(warehouse, settings, tmp_path):
    [tid] = draft_tickets(
        warehouse,
        settings.ticketing,
        Policy(),
        [dropoff_cluster()],
        run_id="r1",
        now=NOW,
        window_days=7,
    ).created
    with pytest.raises(ConflictError, match="approve it first"):
        service.export(warehouse, settings.ticketing, tid, "files", "alice")
    service.approve(warehouse, tid, "alice")
    with pytest.raises(ConfigError, match=r"ticketing\.github\.repo"):
        service.export(warehouse, settings.ticketing, tid, "github", "alice")
