"""The RCA stage inside the batch cycle: incidents land in `andon run --json` with the contract."""

from __future__ import annotations

from datetime import timedelta

from pipeline.cycle import STAGES, run_cycle
from rca.stage import detect_incidents_stage
from settings import Settings
from tests.rca.synth import T0
from tests.rca.test_rca import NOW, bad_deploy_world
from warehouse import Warehouse


def test_stage_is_registered_and_fills_the_cycle_result(
    warehouse: Warehouse, settings: Settings
) -> None:
    assert ("detect_incidents", detect_incidents_stage) in STAGES
    bad_deploy_world(warehouse)
    result = run_cycle(
        settings, warehouse, T0, T0 + timedelta(minutes=100), NOW,
        stages=[("detect_incidents", detect_incidents_stage)],
    )  # fmt: skip
    [incident] = result.to_json()["incidents"]
    assert {"id", "service", "route", "signal", "onset", "origin", "suspects"} <= set(incident)
    assert incident["origin"] == {"service": "pricing", "operation": "SELECT prices"}
    assert incident["suspects"][0]["deployment_id"] == "dep-pricing-200"
    assert incident["suspects"][0]["pr_number"] == 11
    assert isinstance(incident["suspects"][0]["score"], float)


def test_stage_can_be_disabled(warehouse: Warehouse, settings: Settings) -> None:
    bad_deploy_world(warehouse)
    off = settings.model_copy(update={"rca": settings.rca.model_copy(update={"enabled": False})})
    result = run_cycle(
        off, warehouse, T0, T0 + timedelta(minutes=100), NOW,
        stages=[("detect_incidents", detect_incidents_stage)],
    )  # fmt: skip
    assert result.incidents == []
