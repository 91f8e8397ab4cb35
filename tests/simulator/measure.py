"""Independent measurements of the generated data (from otel_traces-shaped rows, not from the
generator's own counters): what an analysis would compute."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.rows import TRACE_SCHEMA


@dataclass
class Session:
    attrs: dict[str, str]
    steps: list[tuple[int, str, str, float]] = field(
        default_factory=list
    )  # time, route, status, ms

    def routes(self) -> list[str]:
        return [s[1] for s in self.steps]


def sessions_from_rows(rows: list[tuple[Any, ...]]) -> dict[str, Session]:
    """Root spans grouped by session.id, in time order, with the segment attributes."""
    names = TRACE_SCHEMA.names
    idx = {n: i for i, n in enumerate(names)}
    sessions: dict[str, Session] = {}
    for row in rows:
        if row[idx["ParentSpanId"]]:
            continue
        span_attrs = dict(row[idx["SpanAttributes"]])
        resource = dict(row[idx["ResourceAttributes"]])
        sid = span_attrs["session.id"]
        session = sessions.get(sid)
        if session is None:
            session = Session(attrs={**resource, **span_attrs})
            sessions[sid] = session
        session.steps.append(
            (
                row[idx["Timestamp"]],
                span_attrs["http.route"],
                row[idx["StatusCode"]],
                row[idx["Duration"]] / 1e6,
            )
        )
    for session in sessions.values():
        session.steps.sort()
    return sessions


def _in(segment: dict[str, str], attrs: dict[str, str]) -> bool:
    return all(attrs.get(k) == v for k, v in segment.items())


def dropoff(
    sessions: dict[str, Session], step: str, nxt: str, segment: dict[str, str]
) -> tuple[float, int]:
    reached = [s for s in sessions.values() if step in s.routes() and _in(segment, s.attrs)]
    left = [s for s in reached if nxt not in s.routes()]
    return len(left) / len(reached), len(reached)


def attempts_per_success(sessions: dict[str, Session], step: str, segment: dict[str, str]) -> float:
    counts = []
    for s in sessions.values():
        if not _in(segment, s.attrs):
            continue
        visits = [x for x in s.steps if x[1] == step]
        if visits and visits[-1][2] != "Error":
            counts.append(len(visits))
    return float(np.mean(counts))


def abandon_after_error(
    sessions: dict[str, Session], step: str, nxt: str, segment: dict[str, str]
) -> tuple[float, int]:
    hit = []
    for s in sessions.values():
        visits = [x for x in s.steps if x[1] == step]
        if visits and visits[0][2] == "Error" and _in(segment, s.attrs):
            hit.append(s)
    left = [s for s in hit if nxt not in s.routes()]
    return len(left) / len(hit), len(hit)


def p75_ms(sessions: dict[str, Session], step: str, segment: dict[str, str], inside: bool) -> float:
    values = [
        x[3]
        for s in sessions.values()
        if _in(segment, s.attrs) == inside
        for x in s.steps
        if x[1] == step
    ]
    return float(np.percentile(values, 75))


def by_service(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    idx = TRACE_SCHEMA.names.index("ServiceName")
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        out[row[idx]] += 1
    return dict(out)
