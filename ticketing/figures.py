"""How ticket text states figures: one formatting per kind of metric, shared by the offline
writer, the acceptance criteria and the exporters (so the words and the evidence agree).
"""

from __future__ import annotations

import math

# Readable names of the metrics the analysis emits; unknown metrics read as their name.
METRIC_NAMES: dict[str, str] = {
    "dropoff_rate": "drop-off rate",
    "abandon_rate": "abandonment rate",
    "error_abandon_rate": "abandonment rate after an error",
    "abandon_after_error_rate": "abandonment rate after an error",
    "abandon_rate_after_error": "abandonment rate after an error",
    "attempts_per_success": "attempts per success",
    "retry_rate": "retry rate",
    "error_rate": "error rate",
    "p50_ms": "median latency",
    "p75_ms": "p75 latency",
    "p90_ms": "p90 latency",
    "p95_ms": "p95 latency",
    "p99_ms": "p99 latency",
    "error_sessions": "sessions with this error",
    "sessions_with_error": "sessions with this error",
    "error_events": "error events",
    "events": "error events",
    "tickets": "support tickets",
    "ticket_count": "support tickets",
    "conversion_rate": "conversion rate",
    "completion_rate": "completion rate",
}


def metric_name(metric: str) -> str:
    """'dropoff_rate' -> 'drop-off rate'."""
    return METRIC_NAMES.get(metric, metric.replace("_", " "))


def is_fraction_metric(metric: str) -> bool:
    """Rates and shares are stored as fractions (0..1) and written as percentages."""
    words = metric.split("_")
    return "rate" in words or "share" in words


def is_duration_metric(metric: str) -> bool:
    return metric.endswith("_ms")


def pct(fraction: float, decimals: int = 1) -> str:
    """0.3412 -> '34.1%' (whole numbers lose their '.0')."""
    text = f"{fraction * 100:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def count(value: float) -> str:
    """2140 -> '2,140'; 2.5 -> '2.5'."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def number(value: float, decimals: int = 2) -> str:
    """A plain figure with at most ``decimals`` decimals: 2.3456 -> '2.35'."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")


def metric_value(metric: str, value: float) -> str:
    """A metric's value as text: '34.1%', '1,240 ms', '2.3'."""
    if is_fraction_metric(metric) and 0 <= value <= 1:
        return pct(value)
    if is_duration_metric(metric):
        return f"{round(value):,} ms"
    return number(value)


def relative_change(value: float, baseline: float) -> float | None:
    """(value - baseline) / baseline, or None when there is no baseline."""
    if not baseline or math.isnan(baseline):
        return None
    return (value - baseline) / baseline


def change_phrase(value: float, baseline: float) -> str:
    """'+85% against the baseline', '2.4x the baseline', or '' when not comparable."""
    change = relative_change(value, baseline)
    if change is None:
        return ""
    if change >= 1.0:
        return f"{number(value / baseline, 1)}x the baseline"
    sign = "+" if change >= 0 else "-"
    return f"{sign}{pct(abs(change), 0)} against the baseline"


def segment_phrase(segment: dict[str, str]) -> str:
    """{'os.name': 'iOS', 'app.version': '4.2.0'} -> 'os.name=iOS, app.version=4.2.0'."""
    if not segment:
        return "all users"
    return ", ".join(f"{k}={v}" for k, v in sorted(segment.items()))


def flow_phrase(flow: str) -> str:
    """'checkout' -> 'the checkout flow'; a discovered 'to /checkout/confirm' -> 'the flow to
    /checkout/confirm' (discovered flows are named by their goal step)."""
    return f"the flow {flow}" if flow.startswith("to ") else f"the {flow} flow"


def threshold_for(metric: str, value: float, baseline: float, recovery: float) -> tuple[str, float]:
    """The comparison and threshold a fix must reach: recover ``recovery`` of the gap.

    When the affected value is above the baseline, lower is better (drop-off, latency, retries,
    errors): ``<= baseline + (1 - recovery) * gap``. Otherwise higher is better (conversion).
    The threshold is rounded to the precision the text shows, so text and data agree.
    """
    gap = value - baseline
    if gap >= 0:
        comparison, raw = "<=", baseline + (1 - recovery) * gap
    else:
        comparison, raw = ">=", baseline + (1 - recovery) * gap
    if is_fraction_metric(metric) and 0 <= raw <= 1:
        return comparison, round(raw, 3)
    if is_duration_metric(metric):
        return comparison, float(round(raw))
    return comparison, round(raw, 2)
