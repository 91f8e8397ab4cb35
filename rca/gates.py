"""Gate verdicts against production (pure): what each CI gate measured for a suspect change, where
its evidence disagrees with what production shows, what it did not cover, and what to change.

Measurements are recognised by name: latency (``p95_ms``, ``latency_p99``, ``duration_ms``,
``*_s``), error rates (``error_rate``, ``5xx_pct``), load (``rps``, ``rpm``, ``vus``). Routes the
gate exercised are read from its details (JSON ``routes``/``scenarios``/``endpoints`` lists or
``/paths`` in the text) and from measurement names (``p95_ms./quote``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from rca.models import GateFinding, Suspect

_PCT = re.compile(r"p(50|75|90|95|99|999)")
_LATENCY = re.compile(r"(p\d{2,3}|latency|duration|response_time|_ms\b|_ms$)")
_ERROR = re.compile(r"(error|fail|5xx)")
_RATE = re.compile(r"(rate|ratio|pct|percent|share)")
_LOAD = re.compile(r"(rps|qps|rpm|throughput|vus|users|concurrency)")
_ROUTE = re.compile(r"(/[A-Za-z0-9_{}:.\-]+(?:/[A-Za-z0-9_{}:.\-]+)*)")


@dataclass
class Production:
    """What production showed on one degraded route (ms, ratio, requests per second)."""

    route: str
    service: str
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    error_rate: float = 0.0
    rps: float = 0.0
    peak_rps: float = 0.0
    baseline_p95_ms: float = 0.0
    baseline_error_rate: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def percentile(self, pct: str) -> float:
        return {"50": self.p50_ms, "99": self.p99_ms}.get(pct, self.p95_ms)


def _seconds(name: str) -> bool:
    return name.endswith(("_s", "_sec", "_seconds")) or "seconds" in name


def latency_ms(name: str, value: float) -> float:
    """A latency measurement in milliseconds."""
    return value * 1000.0 if _seconds(name.lower()) else value


def ratio(name: str, value: float) -> float:
    """An error measurement as a ratio (percentages divided by 100)."""
    lower = name.lower()
    return value / 100.0 if ("pct" in lower or "percent" in lower or value > 1.0) else value


def fmt_ms(ms: float) -> str:
    """180 ms, 1.2 s."""
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def gate_routes(details: str, measurements: dict[str, float]) -> list[str]:
    """Routes a gate says it exercised (empty when it does not say)."""
    found: list[str] = []
    try:
        parsed = json.loads(details) if details.strip().startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("routes", "scenarios", "endpoints", "paths", "covered_routes"):
            value = parsed.get(key)
            if isinstance(value, list):
                found.extend(str(v) for v in value)
            elif isinstance(value, str):
                found.extend(_ROUTE.findall(value))
    else:
        found.extend(_ROUTE.findall(details))
    for name in measurements:
        found.extend(_ROUTE.findall(name))
    return sorted({r.rstrip(".,;") for r in found if r.startswith("/")})


def _route_match(route: str, covered: list[str]) -> bool:
    norm = route.rstrip("/")
    return any(
        c.rstrip("/") == norm or c.endswith(norm) or norm.endswith(c.rstrip("/")) for c in covered
    )


def _measured(name: str, incident_kind: str) -> bool:
    lower = name.lower()
    if incident_kind == "errors":
        # A rate, not a count: "failures: 0" of a test suite says nothing about production errors.
        return bool(_ERROR.search(lower) and _RATE.search(lower)) and not _LOAD.search(lower)
    return bool(_LATENCY.search(lower)) and not _ERROR.search(lower) and not _LOAD.search(lower)


def _load(measurements: dict[str, float]) -> tuple[str, float] | None:
    for name, value in measurements.items():
        lower = name.lower()
        if _LOAD.search(lower):
            if "rpm" in lower:
                return name, value / 60.0
            return name, value
    return None


def analyse(
    suspects: list[Suspect],
    verdicts: list[dict[str, Any]],
    incident_kind: str,
    production: list[Production],
    production_environment: str = "production",
) -> list[GateFinding]:
    """One finding per verdict of the given suspects' PRs or commits."""
    main = max(
        production,
        key=lambda p: p.p95_ms if incident_kind != "errors" else p.error_rate,
        default=None,
    )
    findings: list[GateFinding] = []
    for position, suspect in enumerate(suspects):
        mine = [
            v for v in verdicts
            if (suspect.pr_number and int(v.get("pr_number") or 0) == suspect.pr_number)
            or (v.get("commit_sha") and suspect.commit_sha
                and (suspect.commit_sha.startswith(v["commit_sha"]) or v["commit_sha"].startswith(suspect.commit_sha)))
        ]  # fmt: skip
        for v in mine:
            findings.append(
                _finding(suspect, v, incident_kind, main, production, production_environment)
            )
        if not mine and position == 0:
            findings.append(
                GateFinding(
                    deployment_id=suspect.deployment_id,
                    pr_number=suspect.pr_number,
                    gate="none recorded",
                    verdict="missing",
                    not_covered=[f"no gate verdict was recorded for {suspect.deployment_id}"],
                    recommendation=_missing_gate_recommendation(incident_kind, main),
                )
            )
    return findings


def _missing_gate_recommendation(kind: str, main: Production | None) -> str:
    if main is None:
        return "record gate verdicts (QA, performance, security) for every change that deploys"
    if kind == "errors":
        return (
            f"require a QA gate that exercises {main.route} and fails above "
            f"{max(main.baseline_error_rate * 2, 0.01):.1%} errors before {main.service} deploys"
        )
    budget = max(main.baseline_p95_ms * 1.2, 1.0)
    return (
        f"require a performance gate on {main.route} with a p95 budget of {fmt_ms(budget)} "
        f"(production baseline {fmt_ms(main.baseline_p95_ms)}) before {main.service} deploys"
    )


def _finding(
    suspect: Suspect,
    v: dict[str, Any],
    kind: str,
    main: Production | None,
    production: list[Production],
    prod_env: str,
) -> GateFinding:
    measurements = {str(k): float(x) for k, x in (v.get("measurements") or {}).items()}
    details = str(v.get("details") or "")
    env = str(v.get("environment") or "")
    gate = str(v.get("gate") or "")
    verdict = str(v.get("verdict") or "")
    finding = GateFinding(
        deployment_id=suspect.deployment_id,
        pr_number=suspect.pr_number,
        gate=gate,
        verdict=verdict,
        at=v.get("at"),
        environment=env,
        measurements=measurements,
        details=details[:500],
    )
    covered = gate_routes(details, measurements)
    relevant = {n: x for n, x in measurements.items() if _measured(n, kind)}
    load = _load(measurements)
    gaps: list[str] = []
    recs: list[str] = []
    if main is not None and relevant:
        finding.measured_degraded_metric = True
        name, value = next(iter(relevant.items()))
        at_load = f" at {load[1]:g} rps" if load else ""
        where = f" in {env}" if env else ""
        if kind == "errors":
            gate_value = ratio(name, value)
            finding.discrepancy = (
                f"{gate} gate: {name} {_pct(gate_value)}{where}{at_load}; production error rate on "
                f"{main.route} since the deploy: {main.error_rate:.1%} "
                f"(baseline {main.baseline_error_rate:.1%})"
            )
        else:
            pct_match = _PCT.search(name.lower())
            pct = pct_match.group(1) if pct_match else "95"
            gate_ms = latency_ms(name, value)
            prod_ms = main.percentile(pct)
            finding.discrepancy = (
                f"{gate} gate: p{pct} {fmt_ms(gate_ms)}{where}{at_load}; production p{pct} on "
                f"{main.route} since the deploy: {fmt_ms(prod_ms)} "
                f"(baseline {fmt_ms(main.baseline_p95_ms if pct == '95' else main.percentile(pct))})"
            )
            if prod_ms > gate_ms * 1.5:
                recs.append(
                    f"hold {main.route} to a p{pct} budget of {fmt_ms(max(main.baseline_p95_ms * 1.2, 1.0))} "
                    f"(production baseline {fmt_ms(main.baseline_p95_ms)}) instead of passing at {fmt_ms(gate_ms)}"
                )
    elif main is not None and _is_related_gate(gate, kind):
        gaps.append(
            f"it measured no {'error rate' if kind == 'errors' else 'latency'} although it is a {gate} gate"
        )
    if main is not None:
        missing = [p.route for p in production if covered and not _route_match(p.route, covered)]
        if covered and missing:
            gaps.append(
                f"routes {', '.join(missing)} were not exercised (it covered {', '.join(covered[:6])})"
            )
            recs.append(f"add {', '.join(missing)} to the {gate} gate's scenarios")
        elif not covered and (relevant or _is_related_gate(gate, kind)):
            gaps.append(
                f"it does not say which routes it exercised; {main.route} may not be among them"
            )
            recs.append(f"make the {gate} gate report per-route results and include {main.route}")
        if (
            load
            and main.peak_rps > 0
            and load[1] < main.peak_rps * 0.8
            and (relevant or _is_related_gate(gate, kind))
        ):
            gaps.append(
                f"it ran at {load[1]:g} rps while production peaks at {main.peak_rps:.0f} rps on {main.route}"
            )
            recs.append(f"run it at production load (at least {main.peak_rps:.0f} rps)")
        if env and prod_env and env != prod_env and relevant:
            gaps.append(
                f"it ran in {env}, not in a {prod_env}-like environment (data volume, dependencies)"
            )
            if not recs:
                recs.append(
                    f"run it against {prod_env}-like data and dependencies, or as a canary in {prod_env}"
                )
    if verdict == "waived":
        gaps.append("its verdict was waived, so it did not block the change")
        recs.append(f"require a named approver and a follow-up for waived {gate} verdicts")
    elif verdict == "fail":
        gaps.append("it failed, yet the change was deployed")
        recs.append(f"make a failing {gate} verdict block deployment")
    finding.not_covered = gaps
    finding.recommendation = "; ".join(dict.fromkeys(recs))
    return finding


def _pct(x: float) -> str:
    """0.04% stays visible; 28.2% needs no more digits."""
    return f"{x:.2%}" if 0 < x < 0.01 else f"{x:.1%}"


def _is_related_gate(gate: str, kind: str) -> bool:
    lower = gate.lower()
    if kind == "errors":
        return any(w in lower for w in ("qa", "test", "integration", "e2e", "smoke", "canary"))
    return any(w in lower for w in ("perf", "load", "latency", "benchmark", "canary"))
