"""Analysis settings: ``[analysis]`` in andon.toml, ``ANDON_ANALYSIS__*`` in the environment.

Declared flows, the statistical thresholds every detector shares, and the default window.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FlowSpec(BaseModel):
    """A declared flow: ordered steps, each matched on a step's route or span name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Flow name shown in clusters, e.g. 'checkout'.")
    steps: list[str] = Field(
        min_length=2,
        description="Ordered steps: an http.route (e.g. 'POST /api/cart') or a span name.",
    )
    goal: str | None = Field(
        default=None, description="The step that means success (default: the last step)."
    )

    @model_validator(mode="after")
    def _goal_is_a_step(self) -> FlowSpec:
        if self.goal is not None and self.goal not in self.steps:
            raise ValueError(f"goal {self.goal!r} is not one of the flow's steps")
        if len(set(self.steps)) != len(self.steps):
            raise ValueError("a flow's steps must be distinct")
        return self

    @property
    def goal_step(self) -> str:
        return self.goal or self.steps[-1]


class ThemeSettings(BaseModel):
    """Support-ticket theme clustering."""

    model_config = ConfigDict(extra="forbid")

    min_k: int = Field(default=2, ge=2, description="Fewest themes considered.")
    max_k: int = Field(default=40, ge=2, description="Most themes considered.")
    min_tickets: int = Field(
        default=20, ge=2, description="Fewer tickets than this in the window: no theme clustering."
    )
    min_theme_size: int = Field(default=3, ge=1, description="Smaller themes are not reported.")
    seed: int = Field(default=7, description="Random seed: same tickets, same themes.")


class AnalysisSettings(BaseModel):
    """Friction analysis: flows, thresholds, windows."""

    model_config = ConfigDict(extra="forbid")

    flows: list[FlowSpec] = Field(
        default_factory=list,
        description="Declared flows; when empty, andon discovers the common flows from the data.",
    )
    window_hours: float = Field(
        default=24.0, gt=0, description="Default analysis window when --since is not given."
    )
    session_gap_minutes: float = Field(
        default=30.0,
        gt=0,
        description="Inactivity gap that splits a user's spans into sessions when session.id is absent.",
    )
    retry_window_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The same step repeated within this many seconds counts as a retry.",
    )
    min_sessions: int = Field(
        default=30, ge=1, description="Minimum support: fewer affected sessions are not reported."
    )
    fdr: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="False discovery rate (Benjamini-Hochberg) across every test of one run.",
    )
    min_rate_effect: float = Field(
        default=0.03,
        ge=0,
        description="Smallest difference in a rate (absolute, 0.03 = 3 points) worth reporting.",
    )
    min_relative_effect: float = Field(
        default=0.25,
        ge=0,
        description="Smallest relative change (latency, attempts) worth reporting: 0.25 = +25%.",
    )
    min_attempts_effect: float = Field(
        default=0.10,
        ge=0,
        description="Smallest relative rise in attempts per success worth reporting: 0.10 = +10%.",
    )
    max_segment_values: int = Field(
        default=40,
        ge=2,
        description="Attributes with more distinct values than this are not used as segments.",
    )
    segment_attributes: list[str] = Field(
        default_factory=list,
        description="Extra attribute keys to segment by (discovered ones are always used).",
    )
    ignore_attributes: list[str] = Field(
        default_factory=lambda: [
            "session.id",
            "enduser.id",
            "http.route",
            "http.request.method",
            "http.response.status_code",
            "url.path",
            "url.full",
            "server.address",
            "telemetry.sdk.version",
            "telemetry.sdk.name",
            "telemetry.sdk.language",
            "service.instance.id",
            "error.type",
            "exception.type",
            "exception.message",
            "otel.status_code",
            "otel.status_description",
        ],
        description="Attribute keys never used as segments.",
    )
    min_flow_sessions: int = Field(
        default=50,
        ge=1,
        description="A discovered flow must be walked by at least this many sessions.",
    )
    exemplars: int = Field(default=5, ge=1, le=50, description="Exemplar trace ids per cluster.")
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
