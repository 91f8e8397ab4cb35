"""Shared fixtures: one real chDB engine per test process, one database per test.

chDB serves one directory per process, so every test in this process shares one engine directory.
Tests share one migrated database whose tables are emptied after each test (`settings`,
`warehouse`); a test that needs an unmigrated database of its own uses `fresh_settings`. Tests
that need a second directory (restarts, a killed server) run andon in a subprocess.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from settings import Settings, load_settings
from warehouse import Warehouse, connect, open_warehouse
from warehouse.migrate import MIGRATIONS_TABLE

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB directory this test process uses."""
    return tmp_path_factory.mktemp("chdb")


POOL_DATABASE = "t_pool"


def _settings_for(engine_dir: Path, database: str) -> Settings:
    return load_settings(
        overrides={"warehouse": {"dsn": f"chdb://{engine_dir}", "database": database}}
    )


def _empty_tables(settings: Settings) -> None:
    """Truncate every data table of the pooled database (keeps the schema and its record).

    Migrating a fresh database per test costs about a second of DDL; truncating costs
    milliseconds, so tests share one migrated database and start from empty tables.
    """
    wh = connect(settings.warehouse)
    try:
        tables = wh.rows(
            "SELECT name FROM system.tables WHERE database = {db:String} "
            "AND engine LIKE '%MergeTree' AND name != {keep:String}",
            {"db": wh.database, "keep": MIGRATIONS_TABLE},
        )
        for (name,) in tables:
            wh.command(f"TRUNCATE TABLE IF EXISTS {wh.table(name)}")
    finally:
        wh.close()


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a temp directory with no ANDON_* variables, no andon.toml and no Anthropic key."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("ANDON_")]:
        monkeypatch.delenv(var)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return tmp_path


@pytest.fixture
def settings(engine_dir: Path, clean_env: Path) -> Iterator[Settings]:
    """Settings pointing at the shared engine and the pooled database, emptied after the test."""
    settings = _settings_for(engine_dir, POOL_DATABASE)
    yield settings
    _empty_tables(settings)


@pytest.fixture
def fresh_settings(engine_dir: Path, clean_env: Path) -> Iterator[Settings]:
    """Settings naming a brand-new, unmigrated database (dropped afterwards)."""
    settings = _settings_for(engine_dir, f"t_{uuid.uuid4().hex[:12]}")
    yield settings
    wh = connect(settings.warehouse)
    try:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
    finally:
        wh.close()


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The pooled warehouse, migrated (a no-op after the first test), with empty tables."""
    wh = open_warehouse(settings.warehouse)
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: third-party fixtures (read-only; never copied into the project)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
