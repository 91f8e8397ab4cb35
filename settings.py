"""andon's one settings object.

Each package declares its own section (``warehouse.config.WarehouseSettings`` and so on); this
module composes them and is the only place that reads the environment or andon.toml.

Precedence, highest first:

1. explicit arguments (CLI flags, passed as ``overrides`` to `load_settings`);
2. environment variables ``ANDON_<SECTION>__<FIELD>``, e.g. ``ANDON_WAREHOUSE__DSN``;
   ``ANTHROPIC_API_KEY`` is also read, unprefixed, as the Anthropic SDK does;
3. the TOML file: ``--config FILE``, else ``$ANDON_CONFIG``, else ``./andon.toml`` if present;
4. the defaults declared on each field.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from analysis.config import AnalysisSettings
from console.config import ConsoleSettings
from errors import ConfigError
from ingest.collectors_config import CollectorsSettings
from ingest.config import IngestSettings
from jobs.config import SchedulerSettings
from llm.config import LLMSettings
from rca.config import RcaSettings
from server.config import ServerSettings
from ticketing.config import TicketingSettings
from warehouse.config import WarehouseSettings

DEFAULT_CONFIG_FILE = Path("andon.toml")

_toml_data: ContextVar[dict[str, Any]] = ContextVar("andon_toml_data", default={})  # noqa: B039


class _TomlSource(PydanticBaseSettingsSource):
    """Values from the andon.toml chosen by `load_settings` (lowest precedence above defaults)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _toml_data.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_toml_data.get())


class Settings(BaseSettings):
    """Everything andon can be configured with, by section."""

    model_config = SettingsConfigDict(
        env_prefix="ANDON_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    collectors: CollectorsSettings = Field(default_factory=CollectorsSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    ticketing: TicketingSettings = Field(default_factory=TicketingSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    rca: RcaSettings = Field(default_factory=RcaSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlSource(settings_cls)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _config_path(config_file: str | Path | None) -> Path | None:
    if config_file is not None:
        return Path(config_file)
    if env_path := os.environ.get("ANDON_CONFIG"):
        return Path(env_path)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(
    config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build the settings from flags, environment, file and defaults (in that precedence).

    ``overrides`` is nested by section, e.g. ``{"warehouse": {"dsn": "chdb:///tmp/w"}}``.
    Raises `ConfigError` with the offending field on invalid values.
    """
    path = _config_path(config_file)
    data = _read_toml(path) if path is not None else {}
    token = _toml_data.set(data)
    try:
        env_section_overrides = _env_merged_sections(overrides or {})
        return _with_anthropic_key(Settings(**env_section_overrides))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        source = f"{path}: " if path is not None else ""
        raise ConfigError(f"{source}invalid setting {where}: {err['msg']}") from exc
    finally:
        _toml_data.reset(token)


def _with_anthropic_key(settings: Settings) -> Settings:
    """Fill ``llm.api_key`` from ``ANTHROPIC_API_KEY`` (as the Anthropic SDK reads it) when unset."""
    key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    if settings.llm.api_key is None and key:
        settings.llm.api_key = SecretStr(key)
    return settings


def _env_merged_sections(overrides: dict[str, Any]) -> dict[str, Any]:
    """Merge partial section overrides over env and file values for the same section.

    pydantic-settings replaces a whole nested section when it is passed as an argument, so a
    flag like --dsn would otherwise drop ``ANDON_WAREHOUSE__DATABASE``. We resolve the section
    without the override first, then lay the override on top.
    """
    if not overrides:
        return {}
    baseline = Settings().model_dump()
    merged: dict[str, Any] = {}
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(baseline.get(section), dict):
            merged[section] = _deep_merge(baseline[section], values)
        else:
            merged[section] = values
    return merged
