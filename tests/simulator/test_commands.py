"""`andon simulate` and `andon demo` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli, main
from settings import Settings
from simulator.demo import DemoState, run_demo, summary_lines
from simulator.manifest import Manifest
from warehouse import Warehouse


def _dsn(settings: Settings) -> list[str]:
    return ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database]


def test_simulate_writes_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["simulate", "saas", "--sessions", "30", "--seed", "4", "--out", str(tmp_path), "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"]["sessions"] == 30 and summary["counts"]["spans"] > 300
    manifest = Manifest.model_validate_json((tmp_path / "manifest.json").read_text())
    assert manifest.app == "saas" and manifest.seed == 4
    assert (tmp_path / "traces.otlp.jsonl").stat().st_size > 0
    assert (tmp_path / "tickets.csv").read_text().startswith("id,created_at,subject,body")


def test_list_apps() -> None:
    result = CliRunner().invoke(cli, ["simulate", "--list-apps"])
    assert result.exit_code == 0
    assert "shop" in result.output and "saas" in result.output


def test_load_into_warehouse(settings: Settings, warehouse: Warehouse, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [*_dsn(settings), "simulate", "shop", "--sessions", "40", "--load", "--clean",
         "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["incidents"] == 0 and summary["frictions"] == 0
    stored = warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_traces')}")
    assert stored == summary["counts"]["spans"]
    assert not (tmp_path / "traces.otlp.jsonl").exists()  # telemetry went to the warehouse
    assert summary["ingested"]["tickets"]["stored"] == summary["counts"]["tickets"]
    assert summary["ingested"]["changes"]["stored"] == summary["counts"]["change_events"]


def test_bad_problems_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problems = tmp_path / "problems.toml"
    problems.write_text('[[frictions]]\nkind = "dropoff"\nflow = "checkout"\nstep = "address"\n'
                        'rate = 3\n')  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["simulate", "shop", "--sessions", "5", "--problems", str(problems),
              "--out", str(tmp_path / "o")])  # fmt: skip
    assert info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and "\n" not in err
    assert str(problems) in err and "frictions.0.dropoff.rate" in err


def test_demo_steps(settings: Settings, warehouse: Warehouse, tmp_path: Path) -> None:
    notes: list[str] = []
    state = DemoState(
        settings=settings, warehouse=warehouse, out_dir=tmp_path, note=notes.append, sessions=120
    )
    run_demo(state)
    assert state.sim is not None
    spans = warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_traces')}")
    assert spans == state.sim.manifest.counts.spans
    assert state.results["tickets"]["stored"] == state.sim.manifest.counts.tickets
    assert any("[4/4]" in n for n in notes)
    run = state.results["run"]
    assert run["run_id"] and isinstance(run["clusters"], list)
    lines = summary_lines(state)
    assert any("incident" in line and "PR #" in line for line in lines)
    assert any("andon tickets list" in line for line in lines)
    assert any("andon serve" in line for line in lines)
    # a second run does not store anything twice
    again = DemoState(
        settings=settings, warehouse=warehouse, out_dir=tmp_path, note=notes.append, sessions=120
    )
    run_demo(again)
    assert again.already_loaded and again.results["tickets"]["stored"] == 0
    assert warehouse.scalar(f"SELECT count() FROM {warehouse.table('otel_traces')}") == spans


def test_unreachable_receiver_fails_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate", "shop", "--sessions", "5", "--send", "http://127.0.0.1:1",
              "--out", str(tmp_path)])  # fmt: skip
    assert info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == "Error: cannot reach the OTLP receiver at http://127.0.0.1:1: Connection refused"


def test_problems_outside_the_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate", "shop", "--hours", "2", "--sessions", "5", "--out", str(tmp_path)])
    assert info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: problems.bad_deploys[0].at_hour: 14.25 h is after the end")
    result = CliRunner().invoke(
        cli, ["simulate", "shop", "--hours", "2", "--sessions", "20", "--random-problems", "4",
              "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = Manifest.model_validate_json((tmp_path / "manifest.json").read_text())
    assert all(d.started_at < manifest.window_end for d in manifest.deployments)
