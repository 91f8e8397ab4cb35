"""Simulated warehouses shared by the analysis tests (expensive: built once per test session)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.manifest import Manifest
from simulator.spec import ProblemSet
from tests.analysis.simdata import load_simulation
from warehouse import Warehouse, WarehouseSettings, open_warehouse


def _open(engine_dir: Path) -> Warehouse:
    return open_warehouse(
        WarehouseSettings(dsn=f"chdb://{engine_dir}", database=f"t_{uuid.uuid4().hex[:12]}")
    )


@pytest.fixture(scope="session")
def shop_default(engine_dir: Path) -> Iterator[tuple[Warehouse, Manifest]]:
    """The shop app with its default problems (four frictions and a bad deploy), 3,000 sessions."""
    wh = _open(engine_dir)
    try:
        yield wh, load_simulation(wh, "shop", seed=7, sessions=3000)
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()


@pytest.fixture(scope="session")
def shop_clean(engine_dir: Path) -> Iterator[tuple[Warehouse, Manifest]]:
    """The shop app with nothing injected, 2,000 sessions."""
    wh = _open(engine_dir)
    try:
        yield wh, load_simulation(wh, "shop", seed=3, sessions=2000, problems=ProblemSet.none())
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()
