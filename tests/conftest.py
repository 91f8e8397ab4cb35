"""Shared fixtures: one real chDB engine per test process, one database per test.

chDB serves one directory per process, so every test in this process shares one engine directory
and isolates itself in a database of its own. Tests that need a second directory (restarts, a
killed server) run andon in a subprocess.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from settings import Settings, load_settings
from warehouse import Warehouse, open_warehouse

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB directory this test process uses."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def settings(engine_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at the shared engine and a fresh database; no andon.toml, no env."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in __import__("os").environ if v.startswith("ANDON_")]:
        monkeypatch.delenv(var)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    database = f"t_{uuid.uuid4().hex[:12]}"
    return load_settings(
        overrides={"warehouse": {"dsn": f"chdb://{engine_dir}", "database": database}}
    )


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    """A migrated warehouse in its own database, dropped afterwards."""
    wh = open_warehouse(settings.warehouse)
    try:
        yield wh
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {wh.database}")
        wh.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: third-party fixtures (read-only; never copied into the project)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
