"""Suspect deployments, scored from explicit factors (pure).

Each candidate deployment gets five factors, each a value in [-1, 1] with the evidence behind it;
the score is their weighted sum. Weights put the version split and the service match well above
timing, so an innocent deploy that merely landed close to the onset does not win on timing alone.

- ``version_split``: spans of the deployed version degrade while other versions' do not (the
  strongest signal; a concurrent split beats a before/after comparison). Spans of the deployed
  service that behave the same on every version exonerate it.
- ``service_match``: the deployed service is the origin (1), its caller or callee (0.4), on the
  degraded path (0.15), elsewhere (-0.3).
- ``time_to_onset``: exp(-minutes / 30) from the deployment to the onset.
- ``code_paths``: the PR's changed files name the degraded routes, operation or error frames.
- ``new_errors``: error fingerprints first seen after the deployment, in its service (version).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import polars as pl

from rca.models import Factor, Origin, Suspect

WEIGHTS: dict[str, float] = {
    "version_split": 0.35,
    "service_match": 0.25,
    "time_to_onset": 0.15,
    "code_paths": 0.15,
    "new_errors": 0.10,
}
TIME_SCALE_MINUTES = 30.0
MIN_SPANS = 20

_STOP = {
    "src", "app", "apps", "lib", "libs", "py", "ts", "tsx", "js", "go", "java", "rb", "kt", "rs",
    "test", "tests", "spec", "services", "service", "api", "v1", "v2", "v3", "internal", "pkg",
    "main", "index", "get", "post", "put", "delete", "patch", "select", "insert", "update", "http",
    "https", "the", "and", "for", "handler", "handlers", "id", "in", "cmd", "server", "client",
    "core", "common", "util", "utils", "md", "json", "yaml", "yml", "toml", "txt", "cfg",
}  # fmt: skip


def tokens(text: str) -> set[str]:
    """Meaningful lowercase words of a path, route or operation (camelCase split too)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return {
        t
        for t in re.split(r"[^a-z0-9]+", spaced.lower())
        if len(t) > 2 and t not in _STOP and not t.isdigit()
    }


@dataclass
class Candidate:
    """One deployment with everything needed to score it."""

    deployment_id: str
    service: str
    version: str
    started_at: datetime
    finished_at: datetime | None = None
    commit_sha: str = ""
    environment: str = ""
    pr: dict[str, Any] | None = None
    split: pl.DataFrame = field(default_factory=pl.DataFrame)


@dataclass
class Context:
    """What the incident says about where to look."""

    onset: datetime
    origin: Origin | None
    kind: Literal["latency", "errors", "unknown"]
    neighbours: set[str]
    path_services: set[str]
    routes: list[str]
    new_errors: list[dict[str, Any]] = field(default_factory=list)


def _minutes(a: datetime, b: datetime) -> float:
    return (a - b).total_seconds() / 60.0


def time_factor(c: Candidate, ctx: Context) -> Factor:
    """Closer to the onset is more suspicious; never the deciding factor on its own."""
    landed = c.finished_at or c.started_at
    if landed > ctx.onset:
        landed = c.started_at  # still rolling out at onset
    gap = max(_minutes(ctx.onset, landed), 0.0)
    value = math.exp(-gap / TIME_SCALE_MINUTES)
    when = "during the onset minute" if gap < 1 else f"{gap:.0f} min before the onset"
    return _factor(
        "time_to_onset", value, f"{c.service} {c.version} finished deploying {when}",
        {"minutes_before_onset": round(gap, 1)},
    )  # fmt: skip


def service_factor(c: Candidate, ctx: Context) -> Factor:
    """The origin's own deploys first, then its direct neighbours in the service graph."""
    origin = ctx.origin.service if ctx.origin else ""
    if origin and c.service == origin:
        return _factor(
            "service_match",
            1.0,
            f"{c.service} is where the degradation originates",
            {"relation": "origin"},
        )
    if c.service in ctx.neighbours:
        return _factor(
            "service_match",
            0.4,
            f"{c.service} calls or is called by {origin}",
            {"relation": "neighbour"},
        )
    if c.service in ctx.path_services:
        return _factor(
            "service_match",
            0.15,
            f"{c.service} is on the degraded requests' path but not next to {origin or 'the origin'}",
            {"relation": "path"},
        )
    return _factor("service_match", -0.3, f"{c.service} is not on the degraded requests' path", {"relation": "unrelated"})  # fmt: skip


def _metric(kind: str) -> tuple[str, str]:
    return (
        ("own_error_rate", "own error rate") if kind == "errors" else ("mean_self_ms", "self time")
    )


def _pool(frame: pl.DataFrame, column: str) -> tuple[float, int]:
    spans = int(frame["spans"].sum()) if not frame.is_empty() else 0
    if spans == 0:
        return 0.0, 0
    value = float((frame[column] * frame["spans"]).sum()) / spans
    return value, spans


def _fmt(kind: str, value: float) -> str:
    return f"{value:.1%}" if kind == "errors" else f"{value:.1f} ms"


def version_factor(c: Candidate, ctx: Context) -> Factor:
    """Do spans served by the deployed version degrade while other versions' do not?"""
    kind = ctx.kind if ctx.kind != "unknown" else "latency"
    column, label = _metric(kind)
    split = c.split
    if split.is_empty():
        return _factor(
            "version_split",
            0.0,
            f"no spans of {c.service} around the onset to compare versions",
            {},
        )
    split = split.with_columns(pl.col("after").cast(pl.Boolean))
    new_after = split.filter((pl.col("version") == c.version) & pl.col("after"))
    other_after = split.filter((pl.col("version") != c.version) & pl.col("after"))
    other_before = split.filter((pl.col("version") != c.version) & ~pl.col("after"))
    new_v, new_n = _pool(new_after, column)
    scope = f"{c.service}" + (
        f" {ctx.origin.operation}" if ctx.origin and ctx.origin.service == c.service else ""
    )
    if new_n < MIN_SPANS:
        other_v, other_n = _pool(other_after, column)
        if other_n >= MIN_SPANS:
            return _factor(
                "version_split", -0.5,
                f"{c.version} served no traffic after the onset ({other_n} spans of {scope} came from other versions)",
                {"spans_new_after": new_n, "spans_other_after": other_n},
            )  # fmt: skip
        return _factor(
            "version_split",
            0.0,
            f"too few spans of {scope} {c.version} after the onset",
            {"spans_new_after": new_n},
        )
    other_v, other_n = _pool(other_after, column)
    if other_n >= MIN_SPANS:
        mode, ref_v, ref_n, weight = "concurrent", other_v, other_n, 1.0
        ref_label = "other versions after the onset"
    else:
        mode, ref_v, ref_n, weight = "before_after", *_pool(other_before, column), 0.7
        ref_label = "the previous version before the onset"
        if ref_n < MIN_SPANS:
            return _factor(
                "version_split",
                0.0,
                f"no earlier version of {scope} to compare {c.version} with",
                {"spans_new_after": new_n},
            )
    if kind == "errors":
        change = new_v - ref_v
        degraded = min(max((change - 0.01) / 0.09, 0.0), 1.0)
        same = abs(change) < 0.01
    else:
        ratio = new_v / ref_v if ref_v > 0 else (math.inf if new_v > 0 else 1.0)
        change = ratio
        degraded = min(max((ratio - 1.2) / 0.8, 0.0), 1.0)
        same = ratio < 1.15
    values: dict[str, float | int | str] = {
        "mode": mode, "metric": label, "new_version": c.version,
        "new_value": round(new_v, 4), "new_spans": new_n,
        "reference_value": round(ref_v, 4), "reference_spans": ref_n,
    }  # fmt: skip
    text = (
        f"{label} of {scope} on {c.version} after the onset: {_fmt(kind, new_v)} ({new_n} spans) "
        f"vs {_fmt(kind, ref_v)} on {ref_label} ({ref_n} spans)"
    )
    if degraded > 0:
        return _factor(
            "version_split", weight * degraded, text + ": the new version degraded", values
        )
    if same:
        return _factor(
            "version_split", -0.6 * weight, text + ": this version behaves like the others", values
        )
    return _factor("version_split", 0.0, text, values)


def code_factor(c: Candidate, ctx: Context) -> Factor:
    """Changed files that name the degraded routes, the origin operation or the error frames."""
    files = list((c.pr or {}).get("files") or [])
    if not files:
        reason = (
            "no pull request found for this commit"
            if not c.pr
            else "the pull request lists no files"
        )
        return _factor("code_paths", 0.0, reason, {})
    strong: set[str] = set()
    for route in ctx.routes:
        strong |= tokens(route)
    if ctx.origin:
        strong |= tokens(ctx.origin.operation)
    for err in ctx.new_errors:
        strong |= tokens(str(err.get("culprit", ""))) | tokens(str(err.get("exception_type", "")))
    service_words = tokens(ctx.origin.service) if ctx.origin else set()
    strong -= service_words
    hits = sorted({f for f in files if tokens(f) & strong and not _is_test(f)})
    if hits:
        matched = sorted(set().union(*(tokens(f) for f in hits)) & strong)
        return _factor(
            "code_paths", 1.0,
            f"changed files touch the affected code: {', '.join(hits[:4])} (matches {', '.join(matched[:5])})",
            {"files": ", ".join(hits[:10])},
        )  # fmt: skip
    near = sorted({f for f in files if tokens(f) & service_words and not _is_test(f)})
    if near:
        return _factor("code_paths", 0.3, f"changed files are in {ctx.origin.service if ctx.origin else ''}'s code but not the degraded paths: {', '.join(near[:3])}", {"files": ", ".join(near[:10])})  # fmt: skip
    return _factor("code_paths", -0.2, f"none of the {len(files)} changed files relate to the degraded routes or operation", {"files": len(files)})  # fmt: skip


def _is_test(path: str) -> bool:
    lower = path.lower()
    return "/test" in lower or lower.startswith("test") or "_test." in lower or ".spec." in lower


def errors_factor(c: Candidate, ctx: Context) -> Factor:
    """Error fingerprints first seen after this deployment, raised by its service (version)."""
    landed = c.started_at
    mine = [
        e for e in ctx.new_errors
        if e.get("service") == c.service and _as_naive(e["first_seen"]) >= landed
    ]  # fmt: skip
    if not mine:
        return _factor(
            "new_errors", 0.0, f"no new error fingerprint in {c.service} after this deployment", {}
        )
    same_version = [e for e in mine if e.get("version") == c.version]
    value = 1.0 if same_version else 0.6
    shown = same_version or mine
    names = ", ".join(
        f"{e['exception_type'] or e['fingerprint'][:12]} ({e['events']} events)" for e in shown[:3]
    )
    return _factor(
        "new_errors", value,
        f"first seen after the deployment in {c.service}" + (f" {c.version}" if same_version else "") + f": {names}",
        {"fingerprints": ", ".join(str(e["fingerprint"]) for e in shown[:5])},
    )  # fmt: skip


def _as_naive(ts: datetime) -> datetime:
    return ts.replace(tzinfo=None) if ts.tzinfo else ts


def _factor(name: str, value: float, evidence: str, values: dict[str, Any]) -> Factor:
    weight = WEIGHTS[name]
    return Factor(
        name=name,  # type: ignore[arg-type]
        value=round(value, 4),
        weight=weight,
        contribution=round(value * weight, 4),
        evidence=evidence,
        values=values,
    )


def score(candidates: list[Candidate], ctx: Context) -> list[Suspect]:
    """Score and rank every candidate (best first); ties go to the deployment nearer the onset."""
    scored: list[Suspect] = []
    for c in candidates:
        factors = [
            version_factor(c, ctx),
            service_factor(c, ctx),
            time_factor(c, ctx),
            code_factor(c, ctx),
            errors_factor(c, ctx),
        ]
        pr = c.pr or {}
        scored.append(
            Suspect(
                deployment_id=c.deployment_id,
                service=c.service,
                version=c.version,
                commit_sha=c.commit_sha,
                environment=c.environment,
                started_at=c.started_at,
                pr_number=int(pr["number"]) if pr.get("number") else None,
                pr_title=str(pr.get("title", "")),
                pr_url=str(pr.get("url", "")),
                pr_author=str(pr.get("author", "")),
                pr_files=list(pr.get("files") or []),
                score=round(sum(f.contribution for f in factors), 4),
                factors=factors,
            )
        )
    scored.sort(key=lambda s: (-s.score, -s.started_at.timestamp()))
    for rank, s in enumerate(scored, start=1):
        s.rank = rank
    return scored
