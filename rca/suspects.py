"""Suspect deployments, scored from explicit factors (pure).

Each candidate deployment gets five factors, each a value in [-1, 1] with the evidence behind it;
the score is their weighted sum. Weights put the version split and the service match well above
timing, so an innocent deploy that merely landed close to the onset does not win on timing alone.

- ``version_split``: spans of the deployed version degrade while other versions' do not (the
  strongest signal; a concurrent split beats a before/after comparison). Spans of the deployed
  service that behave the same on every version exonerate it.
- ``service_match``: the deployed service is the origin (1), its caller or callee (0.4), on the
  degraded path (0.15), elsewhere (-0.3).
- ``time_to_onset``: exp(-minutes / 60) from the deployment to the onset.
- ``code_paths``: the PR's changed files name the degraded routes, operation or error frames.
- ``new_errors``: error fingerprints first seen after the deployment, in its service; strongest
  when their stack frames point at files the PR changed.
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
    "version_split": 0.30,
    "service_match": 0.25,
    "code_paths": 0.20,
    "new_errors": 0.15,
    "time_to_onset": 0.10,
}
# Regressions often show minutes after a deploy, but latent ones (caches expiring, traffic
# reaching a new path) take up to an hour: timing decays slowly and weighs least.
TIME_SCALE_MINUTES = 60.0
# A version that served normally this long before the onset did not start it by arriving.
SETTLED_MINUTES = 5.0
MIN_SPANS = 20

_STOP = {
    "src", "app", "apps", "lib", "libs", "py", "ts", "tsx", "js", "go", "java", "rb", "kt", "rs",
    "test", "tests", "spec", "services", "service", "api", "v1", "v2", "v3", "internal", "pkg",
    "main", "index", "get", "post", "put", "delete", "patch", "select", "insert", "update", "http",
    "https", "the", "and", "for", "handler", "handlers", "id", "in", "cmd", "server", "client",
    "core", "common", "util", "utils", "md", "json", "yaml", "yml", "toml", "txt", "cfg",
    "controller", "controllers", "handle", "routes", "route", "acme", "com", "org", "net",
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
    origin_routes: list[str] = field(default_factory=list)


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
    """Do spans served by the deployed version degrade while other versions' do not?

    Concurrent versions after the onset (canary, rolling deploy) are compared directly. Without
    them, the version after the onset is compared with earlier versions before it, which only
    implicates the version if the degradation arrived with it: a version that had served normally
    for a while before the onset did not start the degradation by arriving (inconclusive), and one
    whose own spans did not degrade is exonerated.
    """
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
    mine = pl.col("version") == c.version
    new_after = split.filter(mine & pl.col("after"))
    new_before = split.filter(mine & ~pl.col("after"))
    other_after = split.filter(~mine & pl.col("after"))
    other_before = split.filter(~mine & ~pl.col("after"))
    new_v, new_n = _pool(new_after, column)
    scope = f"{c.service}" + (
        f" {ctx.origin.operation}" if ctx.origin and ctx.origin.service == c.service else ""
    )
    other_v, other_n = _pool(other_after, column)
    if new_n < MIN_SPANS:
        if other_n >= MIN_SPANS:
            return _factor(
                "version_split", 0.0,
                f"{c.version} no longer served traffic at the onset ({other_n} spans of {scope} came from other versions)",
                {"spans_new_after": new_n, "spans_other_after": other_n},
            )  # fmt: skip
        return _factor(
            "version_split",
            0.0,
            f"too few spans of {scope} {c.version} after the onset",
            {"spans_new_after": new_n},
        )
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
    degraded, same, _ = _compare(kind, new_v, ref_v)
    values: dict[str, float | int | str] = {
        "mode": mode, "metric": label, "new_version": c.version,
        "new_value": round(new_v, 4), "new_spans": new_n,
        "reference_value": round(ref_v, 4), "reference_spans": ref_n,
    }  # fmt: skip
    text = (
        f"{label} of {scope} on {c.version} after the onset: {_fmt(kind, new_v)} ({new_n} spans) "
        f"vs {_fmt(kind, ref_v)} on {ref_label} ({ref_n} spans)"
    )
    if degraded > 0 and mode == "before_after":
        pre_v, pre_n = _pool(new_before, column)
        first = new_before["first_seen"].min() if not new_before.is_empty() else None
        served = _minutes(ctx.onset, _as_naive(first)) if isinstance(first, datetime) else 0.0
        if (
            pre_n >= MIN_SPANS
            and served >= SETTLED_MINUTES
            and _compare(kind, pre_v, ref_v)[0] == 0
        ):
            values.update(
                {
                    "settled_value": round(pre_v, 4),
                    "settled_spans": pre_n,
                    "settled_minutes": round(served, 1),
                }
            )
            return _factor(
                "version_split", 0.0,
                text + f"; but {c.version} had served {pre_n} spans normally ({_fmt(kind, pre_v)}) for "
                f"{served:.0f} min before the onset, so its arrival did not start the degradation",
                values,
            )  # fmt: skip
    if degraded > 0:
        return _factor(
            "version_split", weight * degraded, text + ": the new version degraded", values
        )
    if same:
        return _factor(
            "version_split", -0.6 * weight, text + ": this version behaves like the others", values
        )
    return _factor("version_split", 0.0, text, values)


def _compare(kind: str, value: float, reference: float) -> tuple[float, bool, float]:
    """(how degraded 0..1, whether the same, the change) of a value against a reference."""
    if kind == "errors":
        change = value - reference
        return min(max((change - 0.01) / 0.09, 0.0), 1.0), abs(change) < 0.01, change
    ratio = value / reference if reference > 0 else (math.inf if value > 0 else 1.0)
    return min(max((ratio - 1.2) / 0.8, 0.0), 1.0), ratio < 1.15, ratio


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
    for route in ctx.origin_routes or ctx.routes:
        strong |= tokens(route)
    if ctx.origin:
        strong |= tokens(ctx.origin.operation)
    framed = sorted(
        {f for f in files for e in _on_origin(ctx)
         if e.get("service") == c.service and _frame_in(str(e.get("culprit", "")), [f])}
    )  # fmt: skip
    if framed and not all(_is_test(f) for f in framed):
        frames = {_frame(e) for e in _on_origin(ctx) if e.get("service") == c.service} - {""}
        covered = {fr for fr in frames if any(_frame_in(fr, [f]) for f in framed)}
        share = len(covered) / max(len(frames), 1)
        return _factor(
            "code_paths", 0.5 + 0.5 * share,
            f"changed files are where the new errors are raised: {', '.join(framed[:4])} "
            f"({len(covered)} of {len(frames)} error locations)",
            {"files": ", ".join(framed[:10]), "error_locations_covered": len(covered)},
        )  # fmt: skip
    service_words = tokens(ctx.origin.service) if ctx.origin else set()
    # A file matches by its own name (orders/app/routes/history.py is not about /v1/orders just
    # because it lives in the orders service).
    hits = sorted({f for f in files if _basename_tokens(f) & strong and not _is_test(f)})
    if hits:
        matched = sorted(set().union(*(_basename_tokens(f) for f in hits)) & strong)
        # The share of the degraded routes whose code the change touches.
        routes = ctx.origin_routes or ctx.routes
        touched = [r for r in routes if tokens(r) & set(matched)]
        share = len(touched) / max(len(routes), 1)
        return _factor(
            "code_paths", 0.5 + 0.5 * share,
            f"changed files touch the affected code: {', '.join(hits[:4])} (matches {', '.join(matched[:5])}; {len(touched)} of {len(routes)} degraded routes)",
            {"files": ", ".join(hits[:10])},
        )  # fmt: skip
    near = sorted({f for f in files if tokens(f) & service_words and not _is_test(f)})
    if near:
        return _factor("code_paths", 0.1, f"changed files are in {ctx.origin.service if ctx.origin else ''}'s code but not the degraded paths: {', '.join(near[:3])}", {"files": ", ".join(near[:10])})  # fmt: skip
    return _factor("code_paths", -0.2, f"none of the {len(files)} changed files relate to the degraded routes or operation", {"files": len(files)})  # fmt: skip


def _basename_tokens(path: str) -> set[str]:
    return tokens(path.rsplit("/", 1)[-1])


def _is_test(path: str) -> bool:
    lower = path.lower()
    return "/test" in lower or lower.startswith("test") or "_test." in lower or ".spec." in lower


def errors_factor(c: Candidate, ctx: Context) -> Factor:
    """Error fingerprints first seen after this deployment in its service; their stack frames
    in files this PR changed tie them to it."""
    mine = [
        e for e in ctx.new_errors
        if e.get("service") == c.service and _as_naive(e["first_seen"]) >= c.started_at
    ]  # fmt: skip
    if not mine:
        return _factor(
            "new_errors", 0.0, f"no new error fingerprint in {c.service} after this deployment", {}
        )
    files = [f for f in (c.pr or {}).get("files") or [] if not _is_test(f)]
    on_origin = {id(e) for e in _on_origin(ctx)}
    framed = [e for e in mine if id(e) in on_origin and _frame_in(str(e.get("culprit", "")), files)]
    locations = {_frame(e) for e in mine if id(e) in on_origin} - {""}
    share = len({_frame(e) for e in framed}) / max(len(locations), 1)
    shown = framed or mine
    names = ", ".join(
        f"{e['exception_type'] or e['fingerprint'][:12]} ({e['events']} events)" for e in shown[:3]
    )
    values: dict[str, Any] = {"fingerprints": ", ".join(str(e["fingerprint"]) for e in shown[:5])}
    if framed:
        where = str(framed[0].get("culprit", ""))
        return _factor("new_errors", 0.5 + 0.5 * share, f"first seen after the deployment in {c.service}, raised in {where}, a file this PR changed: {names}", values)  # fmt: skip
    return _factor(
        "new_errors", 0.4, f"first seen after the deployment in {c.service}: {names}", values
    )


def _on_origin(ctx: Context) -> list[dict[str, Any]]:
    """New errors raised on the origin's routes (victim routes upstream raise new errors too)."""
    if not ctx.origin_routes:
        return ctx.new_errors
    return [e for e in ctx.new_errors if e.get("route") in ctx.origin_routes]


def _frame(error: dict[str, Any]) -> str:
    return str(error.get("culprit", "")).split(" in ")[0].strip()


def _frame_in(culprit: str, files: list[str]) -> bool:
    """Whether an error's top frame (``path/to/file.py in func``) is one of the changed files."""
    frame = culprit.split(" in ")[0].strip().lstrip("/")
    if not frame:
        return False
    return any(frame.endswith(f) or f.endswith(frame) for f in files)


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
