"""Ticket policy: priority from measured impact, when a rejected ticket may come back, and which
ticket classes (if any) skip the human gate.

Priority is decided here, from figures code measured, never by a model. The default policy
applies when no policy file is configured; a file replaces the sections it declares::

    # policy.toml
    [[priority.rules]]            # checked in order; the first rule whose conditions all hold
    priority = "P0"               # gives the priority
    min_affected_sessions = 1000
    min_relative_change = 1.0     # +100% against the baseline

    [[priority.rules]]
    priority = "P1"
    min_lost_conversions = 50

    [priority]
    default = "P3"

    [reproposal]
    impact_growth = 1.5           # a rejected ticket comes back when affected sessions grow 1.5x

    [[autonomy.auto_approve]]     # nothing skips the human gate unless listed here
    name = "small-error-groups"
    kinds = ["error_group"]
    max_priority = "P3"           # only P3 (P0 is highest)
    require_grounded = true
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from errors import InputError
from ticketing.models import PRIORITIES, Impact, Priority, Ticket


class PriorityRule(BaseModel):
    """Conditions (all must hold) under which a ticket gets ``priority``."""

    model_config = ConfigDict(extra="forbid")

    priority: Priority
    kinds: list[str] = Field(
        default_factory=list, description="Only these cluster kinds (empty: any)."
    )
    min_affected_sessions: int | None = None
    min_affected_users: int | None = None
    min_lost_conversions: float | None = None
    min_relative_change: float | None = None
    min_score: float | None = None

    def matches(self, kind: str, impact: Impact) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        checks: list[tuple[float | None, float | None]] = [
            (self.min_affected_sessions, impact.affected_sessions),
            (self.min_affected_users, impact.affected_users),
            (self.min_lost_conversions, impact.lost_conversions),
            (
                self.min_relative_change,
                abs(impact.relative_change) if impact.relative_change is not None else None,
            ),
            (self.min_score, impact.score),
        ]
        for minimum, measured in checks:
            if minimum is not None and (measured is None or measured < minimum):
                return False
        return True

    def describe(self) -> str:
        parts = []
        if self.kinds:
            parts.append(f"kind in {self.kinds}")
        for name in (
            "affected_sessions",
            "affected_users",
            "lost_conversions",
            "relative_change",
            "score",
        ):
            value = getattr(self, f"min_{name}")
            if value is not None:
                parts.append(f"{name} >= {value:g}")
        return " and ".join(parts) or "always"


class PrioritySection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[PriorityRule] = Field(
        default_factory=lambda: [
            PriorityRule(priority="P0", min_affected_sessions=1000, min_relative_change=1.0),
            PriorityRule(priority="P0", min_lost_conversions=250),
            PriorityRule(priority="P1", min_affected_sessions=300, min_relative_change=0.5),
            PriorityRule(priority="P1", min_lost_conversions=50),
            PriorityRule(priority="P2", min_affected_sessions=50),
        ]
    )
    default: Priority = "P3"


class ReproposalSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impact_growth: float = Field(
        default=1.5,
        gt=1.0,
        description="Affected sessions must grow by this factor since rejection.",
    )


class AutoApproveRule(BaseModel):
    """A ticket class that skips the human gate (autonomy under policy)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kinds: list[str] = Field(default_factory=list)
    max_priority: Priority = "P3"
    require_grounded: bool = True

    def matches(self, ticket: Ticket) -> bool:
        if self.kinds and ticket.kind not in self.kinds:
            return False
        if self.require_grounded and not ticket.grounded:
            return False
        # P0 is the highest: a ticket qualifies when it is no more urgent than max_priority.
        return PRIORITIES.index(ticket.priority) >= PRIORITIES.index(self.max_priority)


class AutonomySection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_approve: list[AutoApproveRule] = Field(default_factory=list)


class Policy(BaseModel):
    """The whole policy (defaults: the built-in rules, nothing skips the human gate)."""

    model_config = ConfigDict(extra="forbid")

    priority: PrioritySection = Field(default_factory=PrioritySection)
    reproposal: ReproposalSection = Field(default_factory=ReproposalSection)
    autonomy: AutonomySection = Field(default_factory=AutonomySection)

    def priority_for(self, kind: str, impact: Impact) -> tuple[Priority, str]:
        """The priority of a ticket with this impact, and the rule that decided it."""
        for number, rule in enumerate(self.priority.rules, start=1):
            if rule.matches(kind, impact):
                return rule.priority, f"policy rule {number}: {rule.describe()}"
        return self.priority.default, "policy default (no rule matched)"

    def may_repropose(self, rejected_impact: int | None, impact: Impact) -> bool:
        """Whether a rejected ticket's impact grew enough to be proposed again."""
        if rejected_impact is None:
            return False
        return impact.affected_sessions >= max(1, rejected_impact) * self.reproposal.impact_growth

    def auto_approver(self, ticket: Ticket) -> AutoApproveRule | None:
        """The autonomy rule that lets this ticket skip review, if any (default: none)."""
        return next((r for r in self.autonomy.auto_approve if r.matches(ticket)), None)


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path`` (TOML), or the default policy when ``path`` is None.

    Raises `InputError` naming the file and field on a bad policy.
    """
    if path is None:
        return Policy()
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read policy file ({exc.strerror})", file=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=str(path)) from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(f"invalid policy: {err['msg']}", file=str(path), field=where) from exc
