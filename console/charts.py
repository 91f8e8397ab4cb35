"""Inline SVG charts, drawn on the server: no JavaScript library, no CDN, works offline.

Each function returns markup to embed in a page. Every chart has a ``<title>`` and an
``aria-label`` stating what it shows, and labels its axes with units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 x 10^k)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def format_number(value: float | None, unit: str = "") -> str:
    """1234.5 -> '1,234.5'; with a unit: '12 ms', '3.4 %'."""
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip() if unit else text


def time_series(
    points: Sequence[tuple[datetime, float | None]],
    *,
    title: str,
    unit: str = "",
    mark: datetime | None = None,
    mark_label: str = "",
    baseline: float | None = None,
    events: Sequence[tuple[datetime, str]] = (),
    width: int = 760,
    height: int = 240,
) -> Markup:
    """A line over time; a marker (e.g. the onset), event ticks (deploys), a dashed baseline."""
    values = [v for _, v in points if v is not None and math.isfinite(v)]
    if len(points) < 2 or not values:
        return Markup('<p class="empty">Not enough data points to draw this chart.</p>')
    left, right, top, bottom = 64, 16, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    t0, t1 = points[0][0], points[-1][0]
    span = max((t1 - t0).total_seconds(), 1.0)
    top_value = _nice_max(max([*values, baseline or 0.0]) * 1.05)

    def x(at: datetime) -> float:
        return left + plot_w * (at - t0).total_seconds() / span

    def y(value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i in range(5):
        value = top_value * i / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}"/><text class="axis" x="{left - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{escape(format_number(value))}</text>'
        )
    parts.append(
        f'<text class="axis" x="{left}" y="{top - 10}" text-anchor="start">{escape(unit)}</text>'
    )
    for i in range(5):
        at = t0 + (t1 - t0) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(
            f'<text class="axis" x="{x(at):.1f}" y="{height - 14}" text-anchor="{anchor}">'
            f"{at:%m-%d %H:%M}</text>"
        )
    if baseline is not None and math.isfinite(baseline):
        parts.append(
            f'<line class="baseline" x1="{left}" x2="{width - right}" y1="{y(baseline):.1f}" '
            f'y2="{y(baseline):.1f}"/><text class="axis" x="{width - right}" '
            f'y="{y(baseline) - 5:.1f}" text-anchor="end">baseline '
            f"{escape(format_number(baseline, unit))}</text>"
        )
    segments: list[list[str]] = [[]]
    for at, point in points:
        if point is None or not math.isfinite(point):
            segments.append([])
            continue
        segments[-1].append(f"{x(at):.1f},{y(point):.1f}")
    for segment in segments:
        if len(segment) > 1:
            parts.append(f'<polyline class="series" points="{" ".join(segment)}"/>')
        elif len(segment) == 1:
            cx, cy = segment[0].split(",")
            parts.append(f'<circle class="dot" cx="{cx}" cy="{cy}" r="2.5"/>')
    for i, (at, label) in enumerate(events):
        if t0 <= at <= t1:
            parts.append(
                f'<line class="event" x1="{x(at):.1f}" x2="{x(at):.1f}" y1="{top}" '
                f'y2="{top + plot_h}"><title>{escape(label)}</title></line>'
                f'<text class="event-label" x="{x(at) + 3:.1f}" y="{top + plot_h - 6 - 12 * (i % 3)}">'
                f"{escape(label)}</text>"
            )
    if mark is not None and t0 <= mark <= t1:
        parts.append(
            f'<line class="marker" x1="{x(mark):.1f}" x2="{x(mark):.1f}" y1="{top}" '
            f'y2="{top + plot_h}"/><text class="marker-label" x="{x(mark) + 4:.1f}" '
            f'y="{top + 12}">{escape(mark_label or f"{mark:%H:%M}")}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    highlight: Sequence[str] = (),
    width: int = 760,
) -> Markup:
    """Horizontal bars, one per label, value printed at the end of each bar."""
    if not items:
        return Markup('<p class="empty">Nothing to show.</p>')
    label_w, value_w, row_h = 220, 90, 26
    height = row_h * len(items) + 8
    top_value = _nice_max(max(v for _, v in items))
    plot_w = width - label_w - value_w
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        bar_w = max(1.0, plot_w * max(value, 0) / top_value)
        cls = "bar hl" if label in highlight else "bar"
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
            f'<rect class="{cls}" x="{label_w}" y="{y + 4}" width="{bar_w:.1f}" height="{row_h - 8}"/>'
            f'<text class="value" x="{label_w + bar_w + 6:.1f}" y="{y + 17}">'
            f"{escape(format_number(value, unit))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class FunnelStep:
    """One step of a flow: how many sessions reached it and how many of those went no further."""

    label: str
    sessions: int
    dropped: int

    @property
    def dropoff_rate(self) -> float:
        return self.dropped / self.sessions if self.sessions else 0.0


def funnel(steps: Sequence[FunnelStep], *, title: str, width: int = 1000) -> Markup:
    """Sessions reaching each step (bars) and the share lost at each step (text, red if high)."""
    if not steps:
        return Markup('<p class="empty">No sessions went through this flow in the window.</p>')
    label_w, info_w, row_h = 240, 300, 30
    height = row_h * len(steps) + 8
    first = max(steps[0].sessions, 1)
    top_value = max(max(s.sessions for s in steps), 1)
    plot_w = width - label_w - info_w
    worst = max(steps, key=lambda s: s.dropoff_rate)
    parts = [
        f'<svg class="chart funnel" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, step in enumerate(steps):
        y = 4 + i * row_h
        bar_w = max(1.0, plot_w * step.sessions / top_value)
        cls = "bar hl" if step is worst and step.dropped else "bar"
        reach = 100.0 * step.sessions / first
        short = step.label if len(step.label) <= 32 else step.label[:31] + "…"
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 19}" text-anchor="end">'
            f"<title>{escape(step.label)}</title>{i + 1}. {escape(short)}</text>"
            f'<rect class="{cls}" x="{label_w}" y="{y + 5}" width="{bar_w:.1f}" height="{row_h - 10}"/>'
            f'<text class="value" x="{label_w + plot_w + 8}" y="{y + 19}">'
            f"{step.sessions:,} sessions ({reach:.0f}%) · {100 * step.dropoff_rate:.1f}% leave</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class SpanBar:
    """One span of a trace for the waterfall: when it started, how long, how deep, its status."""

    label: str
    service: str
    offset_ms: float
    duration_ms: float
    depth: int
    error: bool


def waterfall(spans: Sequence[SpanBar], *, title: str, width: int = 1000) -> Markup:
    """A trace as a waterfall: one row per span, indented by depth, red when it failed."""
    if not spans:
        return Markup('<p class="empty">This trace has no spans in the warehouse.</p>')
    label_w, info_w, row_h = 360, 110, 22
    height = row_h * len(spans) + 8
    total = max(max(s.offset_ms + s.duration_ms for s in spans), 0.001)
    plot_w = width - label_w - info_w
    parts = [
        f'<svg class="chart waterfall" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, span in enumerate(spans):
        y = 4 + i * row_h
        x = label_w + plot_w * span.offset_ms / total
        bar_w = max(1.5, plot_w * span.duration_ms / total)
        text = f"{span.service}: {span.label}"
        short = text if len(text) <= 44 - span.depth * 2 else text[: 43 - span.depth * 2] + "…"
        cls = "bar hl" if span.error else "bar"
        parts.append(
            f'<text class="label" x="{8 + span.depth * 12}" y="{y + 15}">'
            f"<title>{escape(text)}</title>{escape(short)}</text>"
            f'<rect class="{cls}" x="{x:.1f}" y="{y + 4}" width="{bar_w:.1f}" height="{row_h - 8}"/>'
            f'<text class="value" x="{width - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(format_number(span.duration_ms, 'ms'))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
