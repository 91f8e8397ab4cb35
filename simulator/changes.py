"""Change events for the planned deploys: pull requests, deployments and CI gate verdicts.

Each production deploy comes from a merged pull request that went through CI gates (unit tests, a
security scan, a load test in staging) and a staging deploy. The culprit's performance gate
*passed*: it measured the route in staging at low load, where the regression does not show; its
files touch the code path that degrades in production. Innocent deploys look just as real.

The JSON lines follow the design brief's contract (``type`` pull_request | deployment |
gate_verdict) so `andon ingest changes changes.jsonl` reads them as any CI would send them.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from simulator.code_paths import code_file
from simulator.spec import AppSpec, CallSpec, walk_calls
from simulator.timeline import PlannedDeploy, Timeline

AUTHORS = [
    "mchen", "apatel", "sofia-r", "jkowalski", "ndiaz", "tobi-o", "lwagner", "hsato",
    "rkumar", "emartin", "gbianchi", "oyilmaz",
]  # fmt: skip

_INNOCENT_TITLES = {
    "python": ["bump fastapi to 0.115.4", "add structured logging to {slug} handler",
               "extract {slug} validation into a helper", "raise pool size for read replicas"],
    "go": ["upgrade otelhttp to v0.57.0", "add context deadline to {slug} handler",
           "refactor {slug} response encoding", "reduce allocations in JSON encoder"],
    "java": ["upgrade spring boot to 3.3.5", "add metrics for {slug} endpoint",
             "tidy {slug} controller error mapping", "tune HikariCP idle timeout"],
    "node": ["bump express to 4.21.1", "add request id to {slug} logs",
             "refactor {slug} route params parsing", "update lockfile"],
}  # fmt: skip

_EXTRA_FILES = {
    "python": ["pyproject.toml", "app/settings.py", "tests/test_{slug}.py"],
    "go": ["go.mod", "go.sum", "internal/handlers/{slug}_test.go"],
    "java": ["build.gradle.kts", "src/main/resources/application.yaml",
             "src/test/java/com/acme/{camel}Test.java"],
    "node": ["package.json", "package-lock.json", "test/{slug}.test.ts"],
}  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(route: str) -> str:
    words = [w for w in route.strip("/").split("/") if w and not w.startswith("{")]
    return (words[-1] if words else "index").replace("-", "_")


def route_p95_ms(app: AppSpec, call: CallSpec) -> float:
    """Expected p95 of a server operation (self time and everything below it), in ms."""
    total = call.latency_ms + sum(d.latency_ms for d in call.db)
    total += sum(route_p95_ms(app, c) / math.exp(1.645 * 0.45) for c in call.calls)
    return total * math.exp(1.645 * max(call.jitter, 0.3))


class ChangeBuilder:
    """Turns a `Timeline` into change events and remembers each deploy's gate verdicts."""

    def __init__(self, app: AppSpec, timeline: Timeline, seed: int) -> None:
        self.app = app
        self.timeline = timeline
        self.rng = random.Random(seed * 1_000_003 + 29)
        self.verdicts: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, list[str]] = {}
        self.titles: dict[str, str] = {}

    def events(self) -> list[dict[str, Any]]:
        """Every change event, in time order (ties: PR, gates, staging, production)."""
        events: list[tuple[datetime, int, dict[str, Any]]] = []
        for n, deploy in enumerate(self.timeline.deploys):
            for order, (moment, event) in enumerate(self._deploy_events(deploy)):
                events.append((moment, n * 100 + order, event))
        events.sort(key=lambda e: (e[0], e[1]))
        return [event for _, _, event in events]

    def _routes(self, deploy: PlannedDeploy) -> list[CallSpec]:
        return self.app.service_routes(deploy.service)

    def _deploy_events(self, deploy: PlannedDeploy) -> list[tuple[datetime, dict[str, Any]]]:
        rng = self.rng
        service = self.app.service(deploy.service)
        routes = self._routes(deploy)
        if deploy.culprit and deploy.bad is not None:
            incident = next(i for i in self.timeline.incidents if i.deploy is deploy)
            touched = [c for c in routes if c.route in incident.routes]
        else:
            # innocent changes touch other code paths of the service where it has any
            others = [c for c in routes if not self._degraded(deploy.service, c)]
            touched = [rng.choice(others or routes)]
        main = touched[0]
        slug = _slug(main.route)
        title = deploy.pr_title or (
            f"{deploy.service}: "
            + rng.choice(_INNOCENT_TITLES[service.language]).format(slug=slug.replace("_", " "))
        )
        base = service.path or f"services/{service.name}"
        files = [code_file(self.app, deploy.service, c.route) for c in touched]
        extra = rng.sample(_EXTRA_FILES[service.language], 2)
        camel = "".join(part.capitalize() for part in slug.split("_"))
        files += [f"{base}/{f.format(slug=slug, camel=camel)}" for f in extra]
        if deploy.culprit:
            client_file = {
                "python": "app/clients/upstream.py",
                "go": "internal/clients/upstream.go",
                "java": "src/main/java/com/acme/clients/UpstreamClient.java",
                "node": "src/clients/upstream.ts",
            }[service.language]
            files.insert(1, f"{base}/{client_file}")
        self.files[deploy.id] = files
        self.titles[deploy.id] = title
        merged = deploy.started_at - timedelta(minutes=40 + rng.randrange(80))
        staging_start = merged + timedelta(minutes=6 + rng.randrange(6))
        staging_end = staging_start + timedelta(seconds=200 + rng.randrange(200))
        perf_at = staging_end + timedelta(minutes=8 + rng.randrange(4))
        author = rng.choice(AUTHORS)
        pr = {
            "type": "pull_request",
            "repo": service.repo,
            "number": deploy.pr_number,
            "title": title,
            "author": author,
            "merged_at": _iso(merged),
            "merge_commit_sha": deploy.commit_sha,
            "files": files,
            "url": f"https://github.com/{service.repo}/pull/{deploy.pr_number}",
            "labels": [deploy.service],
        }
        unit_tests = 400 + rng.randrange(1600)
        verdicts: list[dict[str, Any]] = [
            {
                "type": "gate_verdict",
                "gate": "unit-tests",
                "verdict": "pass",
                "pr_number": deploy.pr_number,
                "commit_sha": deploy.commit_sha,
                "repo": service.repo,
                "at": _iso(merged - timedelta(minutes=3)),
                "environment": "ci",
                "measurements": {
                    "tests": float(unit_tests),
                    "failures": 0.0,
                    "coverage": round(0.7 + rng.random() * 0.2, 3),
                },
                "details": f"{unit_tests} tests passed",
            },
            {
                "type": "gate_verdict",
                "gate": "security-scan",
                "verdict": "waived" if rng.random() < 0.15 else "pass",
                "pr_number": deploy.pr_number,
                "commit_sha": deploy.commit_sha,
                "repo": service.repo,
                "at": _iso(merged - timedelta(minutes=2)),
                "environment": "ci",
                "measurements": {"critical": 0.0, "high": float(rng.randrange(2))},
                "details": "dependency scan: no critical findings",
            },
        ]
        rps = 50.0
        p95 = route_p95_ms(self.app, main) * (0.9 + 0.2 * rng.random())
        error_rate = round(rng.random() * 0.001, 4)
        verdicts.append(
            {
                "type": "gate_verdict",
                "gate": "perf-gate",
                "verdict": "pass",
                "pr_number": deploy.pr_number,
                "commit_sha": deploy.commit_sha,
                "repo": service.repo,
                "at": _iso(perf_at),
                "environment": "staging",
                "measurements": {
                    "p95_ms": round(p95, 1),
                    "p99_ms": round(p95 * 1.6, 1),
                    "error_rate": error_rate,
                    "rps": rps,
                    "duration_s": 300.0,
                },
                "details": (
                    f"k6 load test {main.method} {main.route} on staging: {rps:.0f} rps for 5 min, "
                    f"p95 {p95:.0f} ms within budget {max(400, round(p95 * 2.5, -2)):.0f} ms"
                ),
            }
        )
        self.verdicts[deploy.id] = verdicts
        staging = {
            "type": "deployment",
            "id": f"{deploy.id}-staging",
            "service": deploy.service,
            "version": deploy.version,
            "commit_sha": deploy.commit_sha,
            "environment": "staging",
            "started_at": _iso(staging_start),
            "finished_at": _iso(staging_end),
            "status": "success",
            "repo": service.repo,
        }
        production = {
            "type": "deployment",
            "id": deploy.id,
            "service": deploy.service,
            "version": deploy.version,
            "commit_sha": deploy.commit_sha,
            "environment": self.app.environment,
            "started_at": _iso(deploy.started_at),
            "finished_at": _iso(deploy.finished_at),
            "status": "success",
            "repo": service.repo,
        }
        return [
            (merged - timedelta(minutes=3), verdicts[0]),
            (merged - timedelta(minutes=2), verdicts[1]),
            (merged, pr),
            (staging_start, staging),
            (perf_at, verdicts[2]),
            (deploy.started_at, production),
        ]

    def _degraded(self, service: str, call: CallSpec) -> bool:
        return any(
            i.deploy.service == service and call.route in i.routes for i in self.timeline.incidents
        )


__all__ = ["ChangeBuilder", "route_p95_ms", "walk_calls"]
