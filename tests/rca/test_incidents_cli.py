"""`andon incidents ...` through the real CLI entry point."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from settings import Settings
from tests.rca.test_rca import ONSET, bad_deploy_world
from warehouse import Warehouse


def _run(settings: Settings, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database, *args]
    )
    return result.exit_code, result.stdout, result.stderr


def test_detect_list_brief_declare_resolve(
    warehouse: Warehouse, settings: Settings, tmp_path: Path
) -> None:
    bad_deploy_world(warehouse)
    code, out, err = _run(settings, "incidents", "detect", "--json")
    assert code == 0, err
    [incident] = json.loads(out)
    assert set(incident) >= {"id", "service", "route", "signal", "onset", "origin", "suspects"}
    assert incident["suspects"][0]["deployment_id"] == "dep-pricing-200"
    assert set(incident["suspects"][0]) >= {
        "deployment_id",
        "service",
        "version",
        "pr_number",
        "score",
    }

    code, out, _ = _run(settings, "incidents", "list", "--status", "open", "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)] == [incident["id"]]
    code, out, _ = _run(settings, "incidents", "list")
    assert incident["id"] in out and "pricing" in out

    target = tmp_path / "brief.html"
    code, _, err = _run(
        settings, "incidents", "brief", incident["id"], "--format", "html", "-o", str(target)
    )
    assert code == 0, err
    assert "<svg" in target.read_text()
    code, out, _ = _run(settings, "incidents", "brief", incident["id"])
    assert out.startswith("# ")

    since = (ONSET + timedelta(minutes=5)).isoformat() + "Z"
    code, out, err = _run(
        settings,
        "incidents",
        "declare",
        "--service",
        "api",
        "--since",
        since,
        "--actor",
        "carol",
        "--json",
    )
    assert code == 0, err
    declared = json.loads(out)
    assert declared["source"] == "declared" and declared["service"] == "api"

    code, out, err = _run(
        settings,
        "incidents",
        "resolve",
        incident["id"],
        "--note",
        "rolled back",
        "--actor",
        "dan",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "resolved"
    code, out, _ = _run(settings, "incidents", "history", incident["id"], "--json")
    assert [e["kind"] for e in json.loads(out)] == ["detected", "resolved"]


def test_cli_errors_are_one_line(warehouse: Warehouse, settings: Settings) -> None:
    import pytest

    from cli.main import main

    args = ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database]
    for bad in (
        ["incidents", "brief", "inc-nope"],
        ["incidents", "declare", "--service", "x", "--since", "yesterday"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, *bad])
        assert exit_info.value.code == 1
