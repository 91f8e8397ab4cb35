"""Warehouse settings: which ClickHouse engine andon talks to, and how tables are created."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_WAREHOUSE_DIR = Path(".andon") / "warehouse"


def default_dsn() -> str:
    """The embedded default: chDB on disk under ./.andon/warehouse (absolute, as chDB wants)."""
    return f"chdb://{DEFAULT_WAREHOUSE_DIR.resolve()}"


class WarehouseSettings(BaseModel):
    """``[warehouse]`` in andon.toml, ``ANDON_WAREHOUSE__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    dsn: str = Field(
        default_factory=default_dsn,
        description="chdb:///abs/dir (embedded, the default) or http(s)://user:pass@host:8123/db",
    )
    database: str = Field(
        default="andon",
        description="Database holding andon's tables; point it at a Collector's database to reuse "
        "its otel_traces/otel_logs.",
    )
    cluster: str | None = Field(
        default=None,
        description="ClickHouse cluster name: DDL runs ON CLUSTER and tables use Replicated engines.",
    )
    ttl_days: int | None = Field(
        default=None, ge=1, description="Drop telemetry older than this many days (None: keep all)."
    )
