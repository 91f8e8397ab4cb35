"""Server settings: the second port (console + JSON API) and how the process shuts down.

The ingest port (OTLP/HTTP and the collector webhooks) is ``[ingest] host/port``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServerSettings(BaseModel):
    """``[server]`` in andon.toml, ``ANDON_SERVER__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    console_host: str = Field(
        default="127.0.0.1", description="Address the console and JSON API bind to."
    )
    console_port: int = Field(
        default=8318, ge=0, le=65535, description="Port of the console and JSON API."
    )
    shutdown_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="On stop, how long in-flight requests may take before connections are closed.",
    )
