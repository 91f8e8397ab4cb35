"""Randomised problem sets: a different incident and frictions for every seed, for evaluation.

    random_problems(app, seed=3)                 # 1-3 frictions, one bad deploy, innocent deploys
    random_problems(app, seed=3, clean=True)     # innocent deploys only: detectors must stay quiet

The culprit deploy is placed among innocent ones: at least one to the same service, and (when the
degradation starts a while after the deploy) one or two innocent deploys finishing *between* the
culprit's deploy and the onset, i.e. closer to the onset than the culprit itself.
"""

from __future__ import annotations

import random

from simulator.spec import (
    AppSpec,
    BadDeploy,
    DeploySpec,
    DropoffProblem,
    ErrorAbandonProblem,
    ProblemSet,
    RetryProblem,
    SlowStepProblem,
    StepProblem,
    TicketSpec,
    check_problems,
)

_SIGNALS = ("latency", "errors", "both")


def _segments(app: AppSpec, rng: random.Random) -> dict[str, str]:
    """A segment big enough to measure: a platform, a client version, a country or a browser."""
    options: list[dict[str, str]] = [{}]
    total = sum(c.weight for c in app.clients)
    for client in app.clients:
        share = client.weight / total
        if share >= 0.15:
            options.append({"app.platform": client.platform})
            top = max(client.versions, key=lambda v: client.versions[v])
            if share * client.versions[top] / sum(client.versions.values()) >= 0.12:
                options.append({"app.platform": client.platform, "app.version": top})
        if client.browsers:
            for browser, weight in client.browsers.items():
                if share * weight / sum(client.browsers.values()) >= 0.1:
                    options.append({"browser.name": browser})
    country_total = sum(app.countries.values())
    for country, weight in app.countries.items():
        if weight / country_total >= 0.12:
            options.append({"geo.country.iso_code": country})
    return rng.choice(options)


def _friction(app: AppSpec, rng: random.Random, used: set[tuple[str, str]]) -> StepProblem | None:
    candidates = [
        (flow, step)
        for flow in app.flows
        for step in flow.steps[1:]  # the landing step has no "reached it" population to compare
        if (flow.name, step) not in used and app.steps[step].calls
    ]
    if not candidates:
        return None
    flow, step = rng.choice(candidates)
    used.add((flow.name, step))
    segment = _segments(app, rng)
    last = step == flow.steps[-1]
    kinds = ["retry", "slow_step"] if last else ["dropoff", "retry", "error_abandon", "slow_step"]
    kind = rng.choice(kinds)
    name = flow.name
    if kind == "dropoff":
        base = 1.0 - flow.proceed[flow.steps.index(step)]
        rate = round(min(0.95, base + rng.uniform(0.2, 0.45)), 3)
        return DropoffProblem(flow=name, step=step, segment=segment, rate=rate)
    if kind == "retry":
        fail_prob = round(rng.uniform(0.3, 0.6), 3)
        return RetryProblem(flow=name, step=step, segment=segment, fail_prob=fail_prob)
    if kind == "error_abandon":
        recovers = rng.random() < 0.3
        return ErrorAbandonProblem(
            error_rate=round(rng.uniform(0.2, 0.5), 3),
            abandon_rate=round(rng.uniform(0.05, 0.2) if recovers else rng.uniform(0.5, 0.9), 3),
            recovers=recovers,
            flow=name,
            step=step,
            segment=segment,
        )
    factor = round(rng.uniform(2.5, 6.0), 2)
    return SlowStepProblem(flow=name, step=step, segment=segment, factor=factor)


def random_problems(
    app: AppSpec,
    seed: int,
    *,
    clean: bool = False,
    frictions: tuple[int, int] = (1, 3),
    innocent_deploys: tuple[int, int] = (3, 6),
    hours: float | None = None,
) -> ProblemSet:
    """A seeded random `ProblemSet` for ``app`` over a window of ``hours`` (default the app's);
    see the module docstring."""
    rng = random.Random(seed * 1_000_003 + 101)
    hours = app.hours if hours is None else hours
    services = [s.name for s in app.services if app.service_routes(s.name)]
    deploys: list[DeploySpec] = []
    bad: list[BadDeploy] = []
    chosen: list[StepProblem] = []
    if not clean:
        used: set[tuple[str, str]] = set()
        for _ in range(rng.randint(*frictions)):
            friction = _friction(app, rng, used)
            if friction is not None:
                chosen.append(friction)
        service = rng.choice(services)
        routes = [c.route for c in app.service_routes(service)]
        picked = sorted(set(rng.sample(routes, rng.randint(1, min(2, len(routes))))))
        at = round(rng.uniform(0.3, 0.75) * hours, 3)
        delay = round(rng.uniform(15, 40), 1) if rng.random() < 0.6 else round(rng.uniform(0, 5), 1)
        signal = rng.choice(_SIGNALS)
        bad.append(
            BadDeploy(
                service=service,
                routes=picked,
                at_hour=at,
                onset_delay_minutes=delay,
                signal=signal,  # type: ignore[arg-type]
                latency_factor=round(rng.uniform(3.0, 10.0), 2),
                error_rate=round(rng.uniform(0.05, 0.3), 3),
            )
        )
        # an innocent deploy of the same service, before the culprit
        deploys.append(DeploySpec(service=service, at_hour=round(rng.uniform(0.05, 0.9) * at, 3)))
        if delay >= 15:
            # innocent deploys finishing between the culprit's deploy and the onset
            for _ in range(rng.randint(1, 2)):
                minutes = rng.uniform(2.0, delay - 11.0)
                deploys.append(
                    DeploySpec(service=rng.choice(services), at_hour=round(at + minutes / 60, 4))
                )
    for _ in range(rng.randint(*innocent_deploys)):
        deploys.append(
            DeploySpec(
                service=rng.choice(services), at_hour=round(rng.uniform(0.02, 0.95) * hours, 3)
            )
        )
    problems = ProblemSet(frictions=chosen, bad_deploys=bad, deploys=deploys, tickets=TicketSpec())
    check_problems(app, problems, hours)
    return problems
