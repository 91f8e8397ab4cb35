"""Pure parsing of webhook and Sentry payloads (no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from errors import AuthError, InputError
from ingest import github, sentry
from ingest.changes import Deployment, GateVerdict
from ingest.collectors_config import CollectorsSettings, SentryProject

REPO = {"name": "shop", "full_name": "acme/shop"}


def _suite(conclusion: str | None) -> dict[str, Any]:
    return {
        "action": "completed",
        "check_suite": {
            "id": 118578147, "head_sha": "D6FDE92930D4715A2B49857D24B940956B26D2D3",
            "status": "completed", "conclusion": conclusion, "updated_at": "2026-03-01T09:00:00Z",
            "app": {"slug": "github-actions", "name": "GitHub Actions"},
            "pull_requests": [{"number": 9}],
        },
        "repository": REPO,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("conclusion", "verdict"),
    [("success", "pass"), ("failure", "fail"), ("timed_out", "fail"), ("neutral", "waived"), ("skipped", "waived"), ("cancelled", None), (None, None)],
)  # fmt: skip
def test_check_suite_conclusions(conclusion: str | None, verdict: str | None) -> None:
    found = github.changes_from_event("check_suite", _suite(conclusion))
    if verdict is None:
        assert found == []
        return
    (gate,) = found
    assert isinstance(gate, GateVerdict)
    assert (gate.gate, gate.verdict, gate.pr_number, gate.commit_sha[:6]) == ("GitHub Actions", verdict, 9, "d6fde9")  # fmt: skip
    assert gate.verdict_id == "github:acme/shop:check_suite:118578147"


def test_deployment_status_failure_and_pending() -> None:
    deployment = {"id": 7, "sha": "abcdef1234567890", "ref": "v2.1.0", "environment": "staging", "created_at": "2026-03-01T10:00:00Z", "payload": {}}  # fmt: skip
    failed = {"deployment_status": {"state": "failure", "updated_at": "2026-03-01T10:02:00Z"}, "deployment": deployment, "repository": REPO}  # fmt: skip
    (dep,) = github.changes_from_event("deployment_status", failed)
    assert isinstance(dep, Deployment)
    assert (dep.service, dep.version, dep.status, dep.environment) == ("shop", "v2.1.0", "failure", "staging")  # fmt: skip
    assert dep.finished_at is not None
    as_string = {**failed, "deployment": {**deployment, "payload": '{"service": "api", "version": "2.1.0"}'}}  # fmt: skip
    (dep,) = github.changes_from_event("deployment_status", as_string)
    assert isinstance(dep, Deployment) and (dep.service, dep.version) == ("api", "2.1.0")
    pending = {**failed, "deployment_status": {"state": "pending", "created_at": "2026-03-01T10:00:01Z"}}  # fmt: skip
    (dep,) = github.changes_from_event("deployment_status", pending)
    assert isinstance(dep, Deployment) and (dep.status, dep.finished_at) == ("queued", None)
    with pytest.raises(InputError) as info:
        github.changes_from_event("deployment", {"deployment": deployment})
    assert info.value.field == "repository"


def test_measurement_convention() -> None:
    text = "## Results\n- p95 latency: 182.5 ms\nerror_rate = 0.002\nchecked 12 endpoints\n```json\n{\"lcp_ms\": 2100, \"label\": \"x\", \"ok\": true}\n```"  # fmt: skip
    assert github.parse_measurements(text) == {"p95 latency": 182.5, "error_rate": 0.002, "lcp_ms": 2100.0}  # fmt: skip


def test_signature_checks() -> None:
    body = b'{"zen": "x"}'
    github.verify_signature("s", body, github.sign("s", body))
    for header in (
        None,
        "",
        "sha256=00",
        github.sign("t", body),
        "sha1=" + github.sign("s", body)[7:],
    ):
        with pytest.raises(AuthError):
            github.verify_signature("s", body, header)
    with pytest.raises(AuthError):
        github.verify_signature(None, body, github.sign("s", body))


def test_envelope_items_with_and_without_length() -> None:
    event = json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "timestamp": 1767225600, "exception": {"values": [{"type": "ValueError", "value": "bad"}]}}).encode()  # fmt: skip
    attachment = b"\x00\x01binary\nwith newline"
    body = (
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://k@o0.ingest.example/42"}\n'
        + json.dumps({"type": "attachment", "length": len(attachment), "filename": "a.bin"}).encode() + b"\n" + attachment + b"\n"
        + b'{"type":"event"}\n' + event + b"\n"
        + b'{"type":"client_report"}\n{"discarded_events":[]}'
    )  # fmt: skip
    header, events = sentry.events_from_envelope(body)
    assert sentry.key_from_dsn(header["dsn"]) == "k"
    assert len(events) == 1 and events[0]["exception"]["values"][0]["type"] == "ValueError"


def test_sentry_event_mapping_and_key_check() -> None:
    settings = CollectorsSettings(sentry_projects={"42": SentryProject(key=SecretStr("k"))})
    project = sentry.check_key(settings, "42", "k")
    for project_id, key in (("42", "x"), ("43", "k"), ("42", None)):
        with pytest.raises(AuthError):
            sentry.check_key(settings, project_id, key)
    event = {
        "event_id": "9ec79c33-ec99-42ab-8353-589fcb2e04dc", "timestamp": "2026-03-01T10:00:00.5Z",
        "level": "fatal", "release": "web@1.0", "environment": "staging", "transaction": "/cart",
        "tags": [["session.id", "s-1"], ["service", "web"]], "user": {"id": 5, "email": "a@b.co"},
        "contexts": {"trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}},
        "exception": {"values": [
            {"type": "KeyError", "value": "'x'", "module": "builtins"},
            {"type": "CartError", "value": "cart 12 broken for a@b.co", "module": "shop.errors",
             "stacktrace": {"frames": [{"filename": "shop/cart.py", "function": "add", "lineno": 3, "in_app": True, "context_line": "raise CartError(id)"}]}},
        ]},
    }  # fmt: skip
    err = sentry.to_error_event(event, "42", project)
    assert err.error_id == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert (err.exception_type, err.service, err.version, err.environment) == ("shop.errors.CartError", "web", "web@1.0", "staging")  # fmt: skip
    assert (err.session_id, err.user_id, err.route, err.trace_id[:4]) == ("s-1", "5", "/cart", "4bf9")  # fmt: skip
    row = dict(
        zip(("ts", "id", "fp", "src", "type", "msg", "stack", "culprit"), err.row(), strict=False)
    )
    assert row["msg"] == "cart 12 broken for [email]" and row["culprit"] == "shop/cart.py in add"
    assert sentry.is_error({"message": "hello", "level": "info"}) is False
    assert sentry.is_error({"message": "db down", "level": "error"}) is True
    with pytest.raises(InputError) as info:
        sentry.to_error_event({**event, "timestamp": None}, "42", project)
    assert info.value.field == "timestamp"


def test_branch_ref_is_not_a_version() -> None:
    deployment = {"id": 8, "sha": "ABCDEF1234567890", "ref": "main", "environment": "production", "created_at": "2026-03-01T10:00:00Z"}  # fmt: skip
    (dep,) = github.changes_from_event("deployment", {"deployment": deployment, "repository": REPO})
    assert isinstance(dep, Deployment) and (dep.version, dep.status) == ("abcdef123456", "queued")
