"""A brief in Markdown, HTML (self-contained, inline SVG chart) and JSON.

The same facts in every format: the incident as code computed it, and the words of the writer
(offline or model) that passed grounding.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, select_autoescape

from rca import chart
from rca.models import Brief, Incident

Format = Literal["md", "html", "json"]
FORMATS: tuple[str, ...] = ("md", "html", "json")

_env = Environment(
    loader=PackageLoader("rca", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _deploy_marks(incident: Incident) -> list[tuple[Any, str]]:
    return [(s.started_at, f"{s.service} {s.version}") for s in incident.suspects[:6]]


def to_json(incident: Incident, brief: Brief) -> dict[str, Any]:
    """The brief as one JSON object: the incident (all evidence) and the written text."""
    return {
        "incident": json.loads(incident.model_dump_json()),
        "brief": json.loads(brief.model_dump_json()),
    }


def _pct(x: float) -> str:
    return f"{x:+.2f}"


def to_markdown(incident: Incident, brief: Brief) -> str:
    """The brief as Markdown (for the CLI, tickets and chat)."""
    t = brief.text
    lines = [
        f"# {incident.title or incident.id}",
        "",
        f"**{incident.id}** · {incident.status} · severity **{incident.severity}** · "
        f"{incident.signal} · onset {incident.onset:%Y-%m-%d %H:%M} UTC · {incident.source}",
        "",
        "## Summary",
        "",
        t.summary,
        "",
        "## Hypothesis",
        "",
        t.hypothesis,
        "",
    ]
    if incident.origin:
        o = incident.origin
        lines += [
            "## Where it originates",
            "",
            "| service | operation | before | after | share |",
            "|---|---|---|---|---|",
        ]
        for c in o.candidates:
            lines.append(
                f"| {c.service} | {c.operation} | {c.before:.3g} | {c.after:.3g} | {c.share:.0%} |"
            )
        unit = "own errors per request" if o.kind == "errors" else "self time ms per request"
        lines += ["", f"_{unit}, before vs after the onset, in traces of the degraded routes_", ""]
    if incident.degradations:
        lines += [
            "## What degraded",
            "",
            "| service | route | signal | baseline | value | onset |",
            "|---|---|---|---|---|---|",
        ]
        for d in incident.degradations:
            lines.append(
                f"| {d.service} | {d.route} | {d.signal} | {d.baseline:g} | {d.value:g} | {d.onset:%H:%M} |"
            )
        lines.append("")
    lines += ["## Suspects", ""]
    if not incident.suspects:
        lines += ["No deployment in the lookback window.", ""]
    for s in incident.suspects[:5]:
        pr = f" · PR #{s.pr_number} {s.pr_title}" if s.pr_number else ""
        lines.append(
            f"{s.rank}. **{s.deployment_id}** {s.service} {s.version} at {s.started_at:%H:%M} UTC{pr} — score {s.score:.2f}"
        )
        for f in s.factors:
            lines.append(f"   - {f.name} {_pct(f.value)} × {f.weight:g}: {f.evidence}")
    lines += ["", "## Gate verdicts", "", t.gate_analysis or "", ""]
    for g in incident.gate_findings:
        meas = ", ".join(f"{k}={v:g}" for k, v in g.measurements.items())
        lines.append(
            f"- **{g.gate}** {g.verdict}"
            + (f" in {g.environment}" if g.environment else "")
            + (f" ({meas})" if meas else "")
        )
        if g.discrepancy:
            lines.append(f"  - discrepancy: {g.discrepancy}")
        for gap in g.not_covered:
            lines.append(f"  - not covered: {gap}")
        if g.recommendation:
            lines.append(f"  - recommendation: {g.recommendation}")
    if incident.similar:
        lines += ["", "## Similar past incidents", ""]
        for p in incident.similar:
            res = f" — resolved: {p.resolution}" if p.resolution else f" — {p.status}"
            lines.append(
                f"- {p.id} ({p.service} {p.route}, {p.onset:%Y-%m-%d}, {', '.join(p.reasons)}){res}"
            )
    lines += ["", "## Next steps", ""]
    lines += [f"{i}. {s}" for i, s in enumerate(t.next_steps, start=1)]
    if incident.sample_trace_ids:
        lines += ["", "## Sample traces", ""] + [f"- `{tid}`" for tid in incident.sample_trace_ids]
    if incident.resolution:
        lines += ["", "## Resolution", "", f"{incident.resolution} ({incident.resolved_by})"]
    grounded = "grounded" if brief.grounded else "NOT grounded"
    if brief.grounding_issues:
        # The reason only: the rejected draft's claims stay in the JSON for audit, not in prose.
        grounded += "; " + brief.grounding_issues[0].split(":")[0]
    lines += [
        "",
        f"_Written by {brief.writer} ({grounded}) at {brief.written_at:%Y-%m-%d %H:%M} UTC._",
        "",
    ]
    return "\n".join(lines)


def to_html(incident: Incident, brief: Brief) -> str:
    """The brief as one self-contained HTML page (inline CSS and SVG, no scripts, no network)."""
    svg = chart.svg(
        incident.series,
        incident.series_unit,
        incident.onset,
        _deploy_marks(incident),
        incident.title,
    )
    return _env.get_template("brief.html.j2").render(incident=incident, brief=brief, chart_svg=svg)


def render(incident: Incident, brief: Brief, fmt: str) -> str:
    """The brief in one of ``md``, ``html``, ``json`` (as text)."""
    if fmt == "md":
        return to_markdown(incident, brief)
    if fmt == "html":
        return to_html(incident, brief)
    if fmt == "json":
        return json.dumps(to_json(incident, brief), indent=2, ensure_ascii=False)
    from errors import InputError

    raise InputError(
        f"unknown brief format {fmt!r}: use one of {', '.join(FORMATS)}", field="format"
    )
