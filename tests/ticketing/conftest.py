"""Fixtures for tests/ticketing: the Anthropic Messages API stand-in, and one simulated shop
warehouse shared by the end-to-end ticket tests (built once per test session)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.manifest import Manifest
from tests.analysis.simdata import load_simulation
from tests.standins.anthropic_api import anthropic_standin  # noqa: F401
from warehouse import Warehouse, WarehouseSettings, open_warehouse


@pytest.fixture(scope="session")
def simulated_shop(engine_dir: Path) -> Iterator[tuple[Warehouse, Manifest]]:
    """The shop app with its default problems (four frictions, a bad deploy), 3,000 sessions."""
    wh = open_warehouse(
        WarehouseSettings(dsn=f"chdb://{engine_dir}", database=f"t_{uuid.uuid4().hex[:12]}")
    )
    try:
        yield wh, load_simulation(wh, "shop", seed=7, sessions=3000)
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()
