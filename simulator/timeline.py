"""Deploys over the window: who ships which version when, which one is the culprit.

Pure planning from a `ProblemSet`: every deploy gets an id, a version bump, a commit sha, a pull
request number and times; each service's version timeline then says which ``service.version``
a span at time t carries, so the version split is visible in the data.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulator.spec import AppSpec, BadDeploy, ProblemSet


@dataclass
class PlannedDeploy:
    """One deployment and the change behind it."""

    id: str
    service: str
    version: str
    previous_version: str
    commit_sha: str
    pr_number: int
    pr_title: str
    started_at: datetime
    finished_at: datetime
    culprit: bool = False
    incident_id: str | None = None
    bad: BadDeploy | None = None


@dataclass
class Incident:
    """A degradation caused by a culprit deploy, active from ``onset``."""

    id: str
    deploy: PlannedDeploy
    spec: BadDeploy
    routes: list[str]
    operations: list[str]
    onset: datetime
    onset_ns: int = 0
    names: set[str] = field(default_factory=set)


def _bump(version: str, minor: bool) -> str:
    parts = version.split(".")
    nums = [int(p) if p.isdigit() else 0 for p in parts[:3]] + [0] * (3 - len(parts[:3]))
    bumped = [nums[0], nums[1] + 1, 0] if minor else [nums[0], nums[1], nums[2] + 1]
    return ".".join(str(n) for n in bumped)


def _sha(seed: int, *parts: object) -> str:
    text = ":".join(str(p) for p in (seed, *parts))
    return hashlib.sha1(text.encode()).hexdigest()


def ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (exact, no float rounding)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


@dataclass
class Timeline:
    """Deploys in time order, per-service version timelines, and the incidents they cause."""

    deploys: list[PlannedDeploy]
    incidents: list[Incident]
    _versions: dict[str, tuple[list[int], list[str]]] = field(default_factory=dict)

    def version_at(self, service: str, time_ns: int) -> str:
        """The version of ``service`` running at ``time_ns``."""
        times, versions = self._versions[service]
        return versions[bisect.bisect_right(times, time_ns) - 1]


def plan_timeline(app: AppSpec, problems: ProblemSet, seed: int, start: datetime) -> Timeline:
    """Order every deploy (innocent and bad) and give each its version, sha, PR and times."""
    rng = random.Random(seed * 1_000_003 + 17)
    entries: list[tuple[float, int, str, BadDeploy | None, str]] = [
        (innocent.at_hour, i, innocent.service, None, innocent.pr_title or "")
        for i, innocent in enumerate(problems.deploys)
    ]
    for i, culprit in enumerate(problems.bad_deploys):
        entries.append(
            (culprit.at_hour, 1000 + i, culprit.service, culprit, culprit.pr_title or "")
        )
    entries.sort(key=lambda e: (e[0], e[1]))

    current = {s.name: s.version for s in app.services}
    versions: dict[str, tuple[list[int], list[str]]] = {
        s.name: ([ns(start) - 10**18], [s.version]) for s in app.services
    }
    deploys: list[PlannedDeploy] = []
    incidents: list[Incident] = []
    pr_number = 4200 + rng.randrange(600)
    for n, (at_hour, _, service, bad, title) in enumerate(entries, start=1):
        pr_number += 1 + rng.randrange(9)
        started = start + timedelta(hours=at_hour)
        finished = started + timedelta(seconds=240 + rng.randrange(360))
        previous = current[service]
        version = _bump(previous, minor=bad is not None or rng.random() < 0.3)
        current[service] = version
        deploy = PlannedDeploy(
            id=f"deploy-{started:%Y%m%d-%H%M}-{service}",
            service=service,
            version=version,
            previous_version=previous,
            commit_sha=_sha(seed, service, version, n),
            pr_number=pr_number,
            pr_title=title,
            started_at=started,
            finished_at=finished,
            culprit=bad is not None,
            bad=bad,
        )
        deploys.append(deploy)
        times, names = versions[service]
        times.append(ns(finished))
        names.append(version)
        if bad is not None:
            routes_calls = app.service_routes(service)
            chosen = [c for c in routes_calls if not bad.routes or c.route in bad.routes]
            incident_id = bad.id or f"incident-{len(incidents) + 1}"
            deploy.incident_id = incident_id
            onset = finished + timedelta(minutes=bad.onset_delay_minutes)
            incidents.append(
                Incident(
                    id=incident_id,
                    deploy=deploy,
                    spec=bad,
                    routes=sorted({c.route for c in chosen}),
                    operations=sorted({c.name for c in chosen}),
                    onset=onset,
                    onset_ns=ns(onset),
                    names={c.name for c in chosen},
                )
            )
    return Timeline(deploys=deploys, incidents=incidents, _versions=versions)
