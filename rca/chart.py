"""An inline SVG line chart of the degraded metric with the onset and deploy times marked.

Plain SVG text: no JavaScript, no fonts or scripts from anywhere, so a brief renders offline and
in mail clients that strip scripts.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from rca.models import SeriesPoint

WIDTH, HEIGHT = 720, 240
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 16, 40


def _fmt(value: float, unit: str) -> str:
    if "error" in unit:
        return f"{value:.0%}"
    if value >= 1000 and "ms" in unit:
        return f"{value / 1000:.1f}s"
    return f"{value:.0f}"


def svg(
    points: list[SeriesPoint],
    unit: str,
    onset: datetime,
    deploys: list[tuple[datetime, str]],
    title: str = "",
) -> str:
    """The chart as an ``<svg>`` element (empty string when there is nothing to draw)."""
    values = [p.value for p in points if p.value is not None]
    if len(points) < 2 or not values:
        return ""
    t0 = points[0].minute
    t1 = points[-1].minute
    span = max((t1 - t0).total_seconds(), 60.0)
    top = max(values) * 1.1 or 1.0
    inner_w = WIDTH - PAD_L - PAD_R
    inner_h = HEIGHT - PAD_T - PAD_B

    def x(ts: datetime) -> float:
        return PAD_L + inner_w * min(max((ts - t0).total_seconds() / span, 0.0), 1.0)

    def y(v: float) -> float:
        return PAD_T + inner_h * (1 - v / top)

    path: list[str] = []
    pen_up = True
    for p in points:
        if p.value is None:
            pen_up = True
            continue
        path.append(f"{'M' if pen_up else 'L'}{x(p.minute):.1f},{y(p.value):.1f}")
        pen_up = False
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(title or unit)}" class="chart">',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{inner_w}" height="{inner_h}" fill="#fafafa" stroke="#ddd"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = top * frac
        parts.append(
            f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#555">{escape(_fmt(v, unit))}</text>'
        )
    for ts in (t0, t0 + (t1 - t0) / 2, t1):
        parts.append(
            f'<text x="{x(ts):.1f}" y="{HEIGHT - PAD_B + 16}" text-anchor="middle" font-size="11" '
            f'fill="#555">{ts:%H:%M}</text>'
        )
    for row, (ts, label) in enumerate(sorted(deploys)):
        if t0 <= ts <= t1:
            parts.append(
                f'<line x1="{x(ts):.1f}" x2="{x(ts):.1f}" y1="{PAD_T}" y2="{PAD_T + inner_h}" '
                f'stroke="#1f6feb" stroke-dasharray="4 3" class="deploy"><title>{escape(label)}</title></line>'
            )
            parts.append(
                # Staggered rows: deploys minutes apart would print over each other.
                f'<text x="{x(ts) + 3:.1f}" y="{PAD_T + 12 + (row % 3) * 12}" font-size="10" '
                'fill="#1f6feb">'
                f"{escape(label[:24])}</text>"
            )
    parts.append(
        f'<line x1="{x(onset):.1f}" x2="{x(onset):.1f}" y1="{PAD_T}" y2="{PAD_T + inner_h}" '
        f'stroke="#d1242f" stroke-width="2" class="onset"><title>onset {onset:%H:%M} UTC</title></line>'
    )
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#222" stroke-width="1.5"/>')
    parts.append(
        f'<text x="{PAD_L}" y="{HEIGHT - 6}" font-size="11" fill="#555">{escape(unit)} per minute; '
        "red: onset; blue dashed: deployments</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
