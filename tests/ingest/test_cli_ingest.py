from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from settings import Settings
from warehouse import Warehouse


def _run(settings: Settings, *args: str) -> tuple[int, str, str]:
    base = ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database]
    result = CliRunner().invoke(cli, [*base, *args])
    return result.exit_code, result.stdout, result.stderr


def test_ingest_tickets_reports_rejections_and_exits_non_zero(
    settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "id,created_at,subject,body\n"
        "1,2026-03-01T10:00:00Z,Login,my password is hunter22\n"
        "2,2026-13-01T10:00:00Z,Bad,month 13\n"
        "3,2026-03-01T11:00:00Z,Ok,fine\n"
    )
    code, out, err = _run(settings, "ingest", "tickets", str(path), "--json")
    assert code == 1
    assert json.loads(out) == {
        "source": "csv",
        "stored": 2,
        "duplicates": 0,
        "rejected": 1,
        "errors": [f"{path}:3: not an ISO 8601 time: '2026-13-01T10:00:00Z' (field 'created_at')"],
    }
    assert f"{path}:3:" in err and "1 row(s) rejected" in err
    body = warehouse.scalar(f"SELECT Body FROM {warehouse.table('andon_support_tickets')} WHERE TicketId = '1'")  # fmt: skip
    assert body == "my password is [secret]"

    code, out, _ = _run(settings, "ingest", "tickets", str(path))
    assert code == 1 and "0 stored, 2 already stored, 1 rejected" in out


def test_record_and_ingest_changes(
    settings: Settings, warehouse: Warehouse, tmp_path: Path
) -> None:
    code, out, err = _run(settings, "record", "deploy", "--service", "checkout", "--version", "1.4.0", "--commit", "ABC123", "--environment", "production")  # fmt: skip
    assert code == 0 and out.strip() == "recorded", err
    code, out, err = _run(settings, "record", "gate", "--gate", "perf", "--verdict", "fail", "--pr", "412", "-m", "p95_ms=410", "-m", "errors=3")  # fmt: skip
    assert code == 0, err
    code, _, err = _run(settings, "record", "gate", "--gate", "perf", "--verdict", "pass", "--pr", "1", "-m", "p95=fast")  # fmt: skip
    assert code != 0 and "--measurement" in err
    code, _, err = _run(settings, "record", "gate", "--gate", "perf", "--verdict", "pass")
    assert code != 0 and "--pr" in err

    dep = warehouse.rows(f"SELECT DeploymentId, CommitSha, Status, Source FROM {warehouse.table('andon_deployments')}")  # fmt: skip
    assert dep == [("checkout@1.4.0@production", "abc123", "success", "cli")]
    gate = warehouse.rows(f"SELECT Verdict, Measurements FROM {warehouse.table('andon_gate_verdicts')}")  # fmt: skip
    assert gate == [("fail", {"p95_ms": 410.0, "errors": 3.0})]

    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"type": "pull_request", "repo": "acme/shop", "number": 5, "merged_at": "2026-03-01T09:00:00Z"}) + "\n")  # fmt: skip
    code, out, _ = _run(settings, "ingest", "changes", str(path), "--json")
    assert code == 0 and json.loads(out)["stored"] == 1


def test_derive_commands(settings: Settings, warehouse: Warehouse) -> None:
    code, out, err = _run(settings, "ingest", "errors", "--since", "2026-03-01T00:00:00Z", "--until", "2026-03-02T00:00:00Z", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["stored"] == 0
    code, _, err = _run(settings, "ingest", "deploys", "--since", "2026-03-02T00:00:00Z", "--until", "2026-03-01T00:00:00Z")  # fmt: skip
    assert code != 0 and "--since" in err
