"""Ingest settings: the OTLP/HTTP receiver and the collector endpoints it hosts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class IngestSettings(BaseModel):
    """``[ingest]`` in andon.toml, ``ANDON_INGEST__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address the receivers bind to.")
    port: int = Field(default=4318, ge=0, le=65535, description="OTLP/HTTP port (standard 4318).")
    token: SecretStr | None = Field(
        default=None, description="When set, requests need 'Authorization: Bearer <token>'."
    )
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, checked on the wire and after decompression.",
    )
    batch_max_rows: int = Field(
        default=50_000, ge=1, description="Rows gathered from concurrent requests into one insert."
    )
    batch_max_delay_ms: int = Field(
        default=200,
        ge=0,
        description="Longest the writer holds a batch open for requests already being decoded "
        "(a lone request is never held).",
    )
    decode_workers: int | None = Field(
        default=None,
        ge=1,
        description="Request bodies decoded at once (None: one per CPU core); more wait.",
    )
    decode_processes: bool = Field(
        default=True,
        description="Decode OTLP bodies in worker processes, beside the server rather than "
        "taking turns with it for Python's interpreter lock (about twice the throughput on "
        "few cores). Off: decode in threads of the server process.",
    )
    queue_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Rows waiting for the writer; above this requests get 429 with Retry-After.",
    )
