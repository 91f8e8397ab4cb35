"""RCA settings: how incidents are detected, how suspects are scored, where briefs are sent."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class RcaSettings(BaseModel):
    """``[rca]`` in andon.toml, ``ANDON_RCA__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True, description="Detect incidents and write briefs in `andon run`."
    )
    environment: str = Field(
        default="",
        description="Only consider deployments of this environment (empty: any environment).",
    )
    baseline_minutes: int = Field(
        default=60,
        ge=10,
        description="Trailing history a series is compared with when there is no seasonal history.",
    )
    seasonal_days: int = Field(
        default=7,
        ge=0,
        description="Days of history used for a time-of-day baseline (0: never seasonal).",
    )
    seasonal_min_days: int = Field(
        default=2,
        ge=1,
        description="Complete previous days needed before the time-of-day baseline is used.",
    )
    sustain_minutes: int = Field(
        default=5,
        ge=2,
        description="Consecutive anomalous minutes (eligible ones) to open an incident.",
    )
    min_requests: int = Field(
        default=5,
        ge=3,
        description="Requests a judged window needs; quiet routes are judged over longer windows.",
    )
    max_window_minutes: int = Field(
        default=30, ge=1, description="Longest window a quiet route is judged over."
    )
    min_affected_requests: int = Field(
        default=20, ge=1, description="Requests in the anomalous run needed to open an incident."
    )
    z_threshold: float = Field(
        default=3.5,
        gt=0,
        description="Test statistic (window against baseline, in standard errors) to be anomalous.",
    )
    latency_min_ratio: float = Field(
        default=1.5,
        gt=1,
        description="Typical (geometric mean) latency must be at least this multiple of its baseline.",
    )
    tail_min_delta: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="Latency also counts as degraded when the share of requests slower than the "
        "route's p90 grows by this much (a slow tail the median hides).",
    )
    error_rate_min_delta: float = Field(
        default=0.05, gt=0, description="Error rate must rise by at least this much (absolute)."
    )
    throughput_max_ratio: float = Field(
        default=0.4,
        gt=0,
        lt=1,
        description="Throughput below this fraction of its baseline is a drop (only for busy routes).",
    )
    throughput_min_baseline: float = Field(
        default=30.0, ge=1, description="Requests per minute a route needs before drops are judged."
    )
    group_minutes: int = Field(
        default=10,
        ge=1,
        description="Degradations whose onsets are this close can be one incident.",
    )
    suspect_lookback_minutes: int = Field(
        default=720, ge=5, description="Deployments this long before the onset are candidates."
    )
    onset_tolerance_minutes: int = Field(
        default=3,
        ge=0,
        description="A deployment up to this long after the estimated onset is still a candidate.",
    )
    localization_window_minutes: int = Field(
        default=30, ge=5, description="Minutes before and after the onset compared to localize."
    )
    max_traces: int = Field(
        default=20_000, ge=100, description="Traces sampled per phase for localization."
    )
    gate_suspects: int = Field(
        default=3, ge=1, description="How many top suspects get their gate verdicts analysed."
    )
    slack_webhook_url: SecretStr | None = Field(
        default=None,
        description="Slack-compatible incoming webhook; new briefs are posted there when set.",
    )
    console_url: str = Field(
        default="", description="Base URL of the console, for links in delivered briefs."
    )
