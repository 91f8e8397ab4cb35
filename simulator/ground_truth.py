"""Ground-truth bookkeeping: for each injected friction, the expected value of its metric (from
the very probabilities the generator draws with) and what the generated data contains, in and
outside the segment; for each incident, production on its degraded operations; and exemplar
sessions that support tickets cite.

Index 0 of each pair is the segment (for error_abandon: segment sessions that hit the error),
index 1 the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.spec import DropoffProblem, ErrorAbandonProblem, RetryProblem, SlowStepProblem
from simulator.theory import StepOdds
from simulator.timeline import Incident

MAX_EXEMPLARS = 5000
# what happened at an error_abandon friction's step, until we know whether the session went on
NO_ERROR, HAD_ERROR_THEN_SUCCESS, OTHER = 2, 1, 0


@dataclass(slots=True)
class Exemplar:
    """A session that suffered from a problem: tickets may cite it."""

    time_ns: int
    session_id: str
    user_id: str
    segment: dict[str, str]


@dataclass
class FrictionStats:
    """Expected and observed metric of one injected friction: [in segment, baseline]."""

    id: str
    problem: DropoffProblem | RetryProblem | ErrorAbandonProblem | SlowStepProblem
    route: str
    next_route: str | None
    exp_num: list[float] = field(default_factory=lambda: [0.0, 0.0])
    exp_den: list[float] = field(default_factory=lambda: [0.0, 0.0])
    obs_num: list[float] = field(default_factory=lambda: [0.0, 0.0])
    obs_den: list[float] = field(default_factory=lambda: [0.0, 0.0])
    sessions: list[int] = field(default_factory=lambda: [0, 0])
    durations: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    shadow: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    exemplars: list[Exemplar] = field(default_factory=list)


@dataclass
class IncidentStats:
    """Production on an incident's degraded operations: durations and errors before/after onset."""

    incident: Incident
    durations: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    errors: dict[str, list[int]] = field(default_factory=dict)
    affected_sessions: int = 0
    exemplars: list[Exemplar] = field(default_factory=list)


def matches(segment: dict[str, str], attrs: dict[str, str]) -> bool:
    """Whether a session with these attributes is in the segment ({} matches everyone)."""
    return all(attrs.get(k) == v for k, v in segment.items())


def add_exemplar(bucket: list[Exemplar], who: Exemplar) -> None:
    """Remember a session that suffered (up to MAX_EXEMPLARS per problem)."""
    if len(bucket) < MAX_EXEMPLARS:
        bucket.append(who)


def left_after(
    stats: list[FrictionStats], flow: str, seg: dict[str, str], marks: dict[str, int], who: Exemplar
) -> None:
    """The session stopped after succeeding at this step: it did not complete it."""
    for s in stats:
        p = s.problem
        if p.flow != flow or s.next_route is None:
            continue
        if isinstance(p, DropoffProblem):
            side = 0 if matches(p.segment, seg) else 1
            s.obs_num[side] += 1
            if side == 0:
                add_exemplar(s.exemplars, who)
        elif isinstance(p, ErrorAbandonProblem):
            mark = marks.get(s.id)
            if mark == HAD_ERROR_THEN_SUCCESS:
                s.obs_num[0] += 1
            elif mark == NO_ERROR:
                s.obs_num[1] += 1


def expect(
    stats: list[FrictionStats],
    flow: str,
    seg: dict[str, str],
    odds: StepOdds,
    p_next: float,
) -> None:
    """Add one visit's expected contribution to each friction of the step."""
    for s in stats:
        p = s.problem
        inside = matches(p.segment, seg)
        side = 0 if inside else 1
        if isinstance(p, DropoffProblem):
            if p.flow != flow or s.next_route is None:
                continue
            s.exp_num[side] += 1.0 - odds.p_success * p_next
            s.exp_den[side] += 1.0
        elif isinstance(p, RetryProblem):
            s.exp_num[side] += odds.attempts_when_success
            s.exp_den[side] += odds.p_success
        elif isinstance(p, ErrorAbandonProblem):
            if p.flow != flow:
                continue
            if inside:
                s.exp_num[0] += odds.p_first_error - odds.p_success_after_error * p_next
                s.exp_den[0] += odds.p_first_error
            s.exp_num[1] += (1.0 - odds.p_first_error) * (1.0 - p_next)
            s.exp_den[1] += 1.0 - odds.p_first_error


def observe(
    stats: list[FrictionStats],
    flow: str,
    seg: dict[str, str],
    attempts: int,
    had_error: bool,
    succeeded: bool,
    marks: dict[str, int],
    who: Exemplar,
) -> None:
    """Count what one visit actually did, for each friction of the step."""
    for s in stats:
        p = s.problem
        inside = matches(p.segment, seg)
        side = 0 if inside else 1
        if isinstance(p, DropoffProblem):
            if p.flow != flow or s.next_route is None:
                continue
            s.sessions[side] += 1
            s.obs_den[side] += 1
            if not succeeded:
                s.obs_num[side] += 1  # left on the error; leaving after success is counted later
                if inside:
                    add_exemplar(s.exemplars, who)
        elif isinstance(p, RetryProblem):
            s.sessions[side] += 1
            if succeeded:
                s.obs_num[side] += attempts
                s.obs_den[side] += 1
            if inside and attempts > 1:
                add_exemplar(s.exemplars, who)
        elif isinstance(p, ErrorAbandonProblem):
            if p.flow != flow:
                continue
            if had_error and inside:
                s.sessions[0] += 1
                s.obs_den[0] += 1
                add_exemplar(s.exemplars, who)
                if succeeded:
                    marks[s.id] = HAD_ERROR_THEN_SUCCESS
                else:
                    s.obs_num[0] += 1
                    marks[s.id] = OTHER
            elif not had_error:
                s.sessions[1] += 1
                s.obs_den[1] += 1
                marks[s.id] = NO_ERROR
            else:
                marks[s.id] = OTHER
        elif isinstance(p, SlowStepProblem):
            s.sessions[side] += 1
            if inside:
                add_exemplar(s.exemplars, who)
