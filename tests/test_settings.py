from __future__ import annotations

from pathlib import Path

import pytest

from errors import ConfigError
from settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in [v for v in __import__("os").environ if v.startswith("ANDON_")]:
        monkeypatch.delenv(var)


def test_default_dsn_is_embedded_under_dot_andon(tmp_path: Path) -> None:
    s = load_settings()
    assert s.warehouse.dsn == f"chdb://{tmp_path.resolve()}/.andon/warehouse"
    assert s.ingest.port == 4318
    assert s.ingest.host == "127.0.0.1"


def test_precedence_flag_over_env_over_file_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "andon.toml").write_text(
        '[warehouse]\ndatabase = "from_file"\nttl_days = 9\n[ingest]\nport = 5000\n'
    )
    s = load_settings()
    assert (s.warehouse.database, s.warehouse.ttl_days, s.ingest.port) == ("from_file", 9, 5000)

    monkeypatch.setenv("ANDON_WAREHOUSE__DATABASE", "from_env")
    s = load_settings()
    assert (s.warehouse.database, s.warehouse.ttl_days) == ("from_env", 9)

    s = load_settings(overrides={"warehouse": {"database": "from_flag"}})
    assert (s.warehouse.database, s.warehouse.ttl_days) == ("from_flag", 9)


def test_explicit_config_file_and_env_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[ingest]\nport = 6001\n")
    assert load_settings(other).ingest.port == 6001
    monkeypatch.setenv("ANDON_CONFIG", str(other))
    assert load_settings().ingest.port == 6001


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest]\nport = 99999\n")
    with pytest.raises(ConfigError, match=r"bad.toml: invalid setting ingest.port"):
        load_settings(bad)


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"ingest.prot"):
        load_settings(bad)


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(bad)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(tmp_path / "nope.toml")
