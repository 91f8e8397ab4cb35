"""Ground-truth bookkeeping: for each injected friction, the expected value of its metric (from
the very probabilities the generator draws with) and what the generated data contains, in and
outside the segment; for each incident, production on its degraded operations; and exemplar
sessions that support tickets cite.

Index 0 of each pair is the segment (for error_abandon: segment sessions that hit the error),
index 1 the baseline.

A drop-off or error_abandon friction is declared on one flow's step, and injected into the
sessions that follow that flow; but whether a session follows a flow is the user's intent, which
telemetry does not carry. What it carries is the path: so the truth is stated over the sessions
that are on the flow at the step by their path, whatever flow they meant to follow. They reached
the step after a step that leads to it in a flow going on to the friction's next step (or such a
flow starts there); those that went on to another flow's next step instead are left out; the
others dropped off when they never reached the next step. At a step that flows share with the
same path (shop ``/search``: checkout and browse), a session that leaves is a drop-off of the
funnel whichever flow it meant, and the rate is the funnel's; at a step two paths reach (saas
``/files/upload``: after the dashboard, or at the end of onboarding), the other path's sessions
do not count. This is the population `analysis.steps.transition_frame` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.spec import DropoffProblem, ErrorAbandonProblem, RetryProblem, SlowStepProblem
from simulator.theory import StepOdds
from simulator.timeline import Incident

MAX_EXEMPLARS = 5000


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
    # drop-off / error_abandon: which sessions are on the flow at the step (by the path, as step
    # ids): the steps that lead to it in the flows going on to next_step; whether such a flow
    # starts at it; the other flows' next steps after it.
    next_step: str | None = None
    came_from: frozenset[str] = frozenset()
    opens: bool = False
    branches: frozenset[str] = frozenset()

    def on_path(self, before: list[str]) -> bool:
        """Whether a session that walked ``before`` to this step is on the friction's flow."""
        return self.opens or any(s in self.came_from for s in before)


@dataclass(slots=True)
class Visit:
    """A session's visit to a drop-off / error_abandon friction's step, settled at its end."""

    stats: FrictionStats
    position: int  # index of the step in the session's walk
    had_error: bool
    succeeded: bool
    inside: bool
    intended: bool  # the session follows the friction's flow (it was injected into it)
    who: Exemplar  # the session, as of the visit


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


def expect(
    stats: list[FrictionStats],
    flow: str,
    before: list[str],
    went_to: str | None,
    seg: dict[str, str],
    odds: StepOdds,
    p_next: float,
) -> None:
    """Add one visit's expected contribution to each friction of the step.

    ``before``: the steps the session walked to get here; ``went_to``: the step its flow goes
    on to (None: the flow ends here), reached with probability ``p_next`` after a success.
    """
    for s in stats:
        p = s.problem
        inside = matches(p.segment, seg)
        side = 0 if inside else 1
        if isinstance(p, RetryProblem):
            s.exp_num[side] += odds.attempts_when_success
            s.exp_den[side] += odds.p_success
            continue
        if not isinstance(p, DropoffProblem | ErrorAbandonProblem) or s.next_step is None:
            continue
        if not s.on_path(before):
            continue
        # Going on to the friction's next step, to another flow's (left out), or leaving.
        reach = p_next if went_to == s.next_step else 0.0
        away = p_next if went_to in s.branches else 0.0
        if isinstance(p, DropoffProblem):
            s.exp_num[side] += 1.0 - odds.p_success * (reach + away)
            s.exp_den[side] += 1.0 - odds.p_success * away
        else:
            if inside:
                s.exp_num[0] += odds.p_first_error - odds.p_success_after_error * (reach + away)
                s.exp_den[0] += odds.p_first_error - odds.p_success_after_error * away
            s.exp_num[1] += (1.0 - odds.p_first_error) * (1.0 - reach - away)
            s.exp_den[1] += (1.0 - odds.p_first_error) * (1.0 - away)


def observe(
    stats: list[FrictionStats],
    flow: str,
    before: list[str],
    seg: dict[str, str],
    attempts: int,
    had_error: bool,
    succeeded: bool,
    visits: list[Visit],
    who: Exemplar,
) -> None:
    """Count what one visit actually did, for each friction of the step (drop-off and
    error_abandon visits are settled when the session ends: `settle`)."""
    for s in stats:
        p = s.problem
        inside = matches(p.segment, seg)
        side = 0 if inside else 1
        if isinstance(p, DropoffProblem | ErrorAbandonProblem):
            if s.next_step is not None and s.on_path(before):
                visits.append(
                    Visit(s, len(before), had_error, succeeded, inside, p.flow == flow, who)
                )
        elif isinstance(p, RetryProblem):
            s.sessions[side] += 1
            if succeeded:
                s.obs_num[side] += attempts
                s.obs_den[side] += 1
            if inside and attempts > 1:
                add_exemplar(s.exemplars, who)
        elif isinstance(p, SlowStepProblem):
            s.sessions[side] += 1
            if inside:
                add_exemplar(s.exemplars, who)


def settle(visits: list[Visit], walked: list[str]) -> None:
    """The session has ended after walking ``walked``: count each drop-off / error_abandon visit.

    It went on when it reached the friction's next step after the step; it is left out when it
    went on to another flow's next step instead; otherwise it dropped off (or, after an error,
    abandoned). Exemplars (what tickets cite) are the sessions the friction was injected into.
    """
    for v in visits:
        s = v.stats
        after = walked[v.position + 1 :]
        went_on = s.next_step in after
        if not went_on and any(step in s.branches for step in after):
            continue
        if isinstance(s.problem, DropoffProblem):
            side = 0 if v.inside else 1
            s.sessions[side] += 1
            s.obs_den[side] += 1
            if not went_on:
                s.obs_num[side] += 1
                if v.inside and v.intended:
                    add_exemplar(s.exemplars, v.who)
        elif v.had_error and v.inside:
            s.sessions[0] += 1
            s.obs_den[0] += 1
            s.obs_num[0] += 0 if went_on else 1
            if v.intended:
                add_exemplar(s.exemplars, v.who)
        elif not v.had_error:
            s.sessions[1] += 1
            s.obs_den[1] += 1
            s.obs_num[1] += 0 if went_on else 1
