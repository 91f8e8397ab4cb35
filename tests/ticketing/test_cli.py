"""`andon tickets ...`: the full review lifecycle from the command line, with --json output."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli, main
from settings import Settings
from tests.ticketing.clusters import dropoff_cluster, slow_cluster
from ticketing.drafting import draft_tickets
from ticketing.policy import Policy
from warehouse import Warehouse

NOW = datetime(2026, 11, 21, 12, 0, 0)


def _andon(settings: Settings, *args: str) -> tuple[int, str]:
    base = ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database]
    result = CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def _seed(warehouse: Warehouse, settings: Settings) -> list[str]:
    outcome = draft_tickets(
        warehouse, settings.ticketing, Policy(), [dropoff_cluster(), slow_cluster()],
        run_id="run-cli", now=NOW, window_days=7,
    )  # fmt: skip
    return outcome.created


def test_full_lifecycle_from_the_cli(warehouse, settings, tmp_path: Path):
    drop_id, slow_id = _seed(warehouse, settings)
    code, out = _andon(settings, "tickets", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [t["id"] for t in listed] == [drop_id, slow_id]  # P0 first
    assert {"id", "title", "priority", "status", "cluster_ids", "grounded"} <= set(listed[0])
    assert listed[0]["grounded"] is True and listed[0]["status"] == "proposed"

    code, out = _andon(settings, "tickets", "show", drop_id)
    assert code == 0 and "## Evidence" in out and "```sql" in out and "## History" in out

    code, out = _andon(settings, "tickets", "edit", drop_id, "--title", "Address form fails on iOS",
                       "--scope", "Fix postcode validation", "--actor", "alice", "--reason", "clearer", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["status"] == "edited"
    code, out = _andon(settings, "tickets", "approve", drop_id, "--actor", "bob", "--json")
    assert code == 0 and json.loads(out)["status"] == "approved"
    code, out = _andon(
        settings, "tickets", "reject", slow_id, "--reason", "expected: cold cache", "--actor", "bob"
    )
    assert code == 0 and "rejected" in out

    export_dir = tmp_path / "exports"
    env_file = tmp_path / "andon.toml"
    env_file.write_text(f'[ticketing]\nexport_dir = "{export_dir}"\n')
    base = [
        "--config",
        str(env_file),
        "--dsn",
        settings.warehouse.dsn,
        "--database",
        settings.warehouse.database,
    ]
    result = CliRunner().invoke(cli, [*base, "tickets", "export", "--json", "--actor", "bob"])
    assert result.exit_code == 0, result.output
    [exported] = json.loads(result.stdout)
    assert exported["ticket_id"] == drop_id and exported["created"] is True
    assert (export_dir / f"{drop_id}.md").is_file()

    code, out = _andon(settings, "tickets", "show", drop_id, "--json")
    shown = json.loads(out)
    assert shown["status"] == "exported" and shown["title"] == "Address form fails on iOS"
    assert [(h["action"], h["actor"]) for h in shown["history"]] == [
        ("proposed", "andon"), ("edited", "alice"), ("approved", "bob"), ("exported", "bob"),
    ]  # fmt: skip
    code, out = _andon(settings, "tickets", "list", "--status", "rejected", "--json")
    assert [t["id"] for t in json.loads(out)] == [slow_id]
    code, out = _andon(settings, "tickets", "history", slow_id)
    assert "expected: cold cache" in out


def test_cli_errors_are_one_line(warehouse, settings, capsys):
    [drop_id, _] = _seed(warehouse, settings)
    base = ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database]
    for args, message in (
        (["tickets", "show", "TKT-missing"], "no ticket 'TKT-missing'"),
        (["tickets", "export", drop_id], "approve it first"),
        (["tickets", "edit", drop_id], "nothing to change"),
    ):
        try:
            main([*base, *args])
        except SystemExit as exc:
            assert exc.code == 1
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and message in err and err.count("\n") == 1
