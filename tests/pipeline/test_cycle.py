"""The batch cycle: stages in order, runs recorded (append-only), clusters stored per run."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from analysis.store import get_cluster, latest_run_id, load_clusters
from cli.main import cli
from errors import InputError, NotFoundError
from pipeline.cycle import STAGES, CycleContext, run_cycle
from pipeline.runs import load_run, load_runs
from settings import Settings
from tests.analysis.simdata import load_simulation, window
from warehouse import Warehouse

NOW = datetime(2026, 11, 21, 6, 0, 0)


@pytest.fixture
def simulated(warehouse: Warehouse) -> tuple[datetime, datetime]:
    manifest = load_simulation(warehouse, "shop", seed=5, sessions=1500)
    return window(manifest)


def test_cycle_records_the_run_and_its_clusters(
    settings: Settings, warehouse: Warehouse, simulated: tuple[datetime, datetime]
) -> None:
    since, until = simulated
    result = run_cycle(settings, warehouse, since, until, NOW)
    assert result.run_id.startswith("run-20261121T060000-")
    assert [name for name, _ in STAGES][:3] == ["derive_errors", "infer_deployments", "analyse"]
    assert result.clusters, "the default shop scenario has frictions"
    assert {"derive_errors", "analyse", "total"} <= set(result.timings)

    record = load_run(warehouse, result.run_id)
    assert record.status == "succeeded"
    assert (record.window_start, record.window_end) == (since, until)
    assert record.outputs["clusters"] == [c.id for c in result.clusters]
    assert record.parameters["analysis"]["fdr"] == settings.analysis.fdr
    assert record.code_version and record.timings["analyse"] > 0

    stored = load_clusters(warehouse, result.run_id)
    assert [c.model_dump() for c in stored] == [c.model_dump() for c in result.clusters]
    assert latest_run_id(warehouse) == result.run_id
    first = result.clusters[0]
    assert get_cluster(warehouse, first.id).model_dump() == first.model_dump()
    with pytest.raises(NotFoundError):
        get_cluster(warehouse, "cl-nothing")

    # Re-running the same window: a new run, the same clusters.
    again = run_cycle(settings, warehouse, since, until, NOW.replace(hour=7))
    assert again.run_id != result.run_id
    assert [c.model_dump() for c in again.clusters] == [c.model_dump() for c in result.clusters]
    assert [r.run_id for r in load_runs(warehouse)] == [again.run_id, result.run_id]
    assert len(load_clusters(warehouse, result.run_id)) == len(result.clusters)


def test_a_failing_stage_records_a_failed_run(settings: Settings, warehouse: Warehouse) -> None:
    def broken(ctx: CycleContext) -> None:
        raise RuntimeError("stage exploded")

    with pytest.raises(RuntimeError):
        run_cycle(settings, warehouse, datetime(2026, 1, 1), datetime(2026, 1, 2), NOW,
                  stages=[("broken", broken)])  # fmt: skip
    run = load_runs(warehouse)[0]
    assert run.status == "failed" and "stage exploded" in run.error
    assert latest_run_id(warehouse) is None  # failed runs are not "latest"


def test_empty_window_is_refused(settings: Settings, warehouse: Warehouse) -> None:
    with pytest.raises(InputError, match="empty window"):
        run_cycle(settings, warehouse, datetime(2026, 1, 2), datetime(2026, 1, 1), NOW)


def test_andon_run_json_prints_the_contract(
    settings: Settings, simulated: tuple[datetime, datetime]
) -> None:
    since, until = simulated
    runner = CliRunner()
    args = ["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database, "run",
            "--since", since.isoformat() + "Z", "--until", until.isoformat() + "Z", "--json"]  # fmt: skip
    out = runner.invoke(cli, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {"run_id", "clusters", "tickets", "incidents"} <= set(data)
    cluster = data["clusters"][0]
    for key in ("id", "kind", "flow", "step", "segment", "metric", "value", "baseline",
                "affected_sessions", "evidence"):  # fmt: skip
        assert key in cluster
    listed = runner.invoke(cli, [*args[:4], "clusters", "list", "--json"], catch_exceptions=False)
    assert [c["id"] for c in json.loads(listed.stdout)] == [c["id"] for c in data["clusters"]]
    shown = runner.invoke(cli, [*args[:4], "clusters", "show", cluster["id"]])
    assert shown.exit_code == 0 and "SQL:" in shown.stdout


def test_andon_run_rejects_a_bad_time(settings: Settings) -> None:
    from cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--dsn", settings.warehouse.dsn, "--database", settings.warehouse.database,
              "run", "--since", "yesterday"])  # fmt: skip
    assert exit_info.value.code == 1
