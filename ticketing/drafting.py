"""Draft or update tickets for a run's clusters: facts by code, words by a writer, then the
grounding check, priority from policy, dedupe against existing tickets, and the events.

Clusters are first grouped (`ticketing.grouping`: a friction with its linked support-ticket
theme and error group is one ticket). For each group (the ticket id is deterministic from the
leading cluster's id):

- no ticket yet: draft one (``proposed``); an autonomy rule of the policy may approve it;
- an open ticket (proposed, edited, approved, exported): when the measured facts changed, update
  its evidence and impact (``evidence_updated``); a ticket nobody has touched yet (``proposed``)
  is also redrafted, a reviewed one keeps its words and gets its grounding re-checked;
- a rejected ticket: proposed again (``reproposed``) only when its affected sessions grew past
  the policy's factor since the rejection; otherwise nothing is filed (counted as suppressed).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

from analysis.models import Cluster
from ticketing import grounding, store
from ticketing.config import TicketingSettings
from ticketing.evidence import (
    acceptance_of,
    evidence_of,
    impact_of,
    linked_errors,
    linked_tickets,
    sample_traces,
    supporting_evidence,
)
from ticketing.grouping import ClusterGroup, group_clusters
from ticketing.lifecycle import transition
from ticketing.models import (
    OPEN_STATUSES,
    GroundingReport,
    Provenance,
    Ticket,
    TicketDraft,
    TicketEvent,
    ticket_id_for,
)
from ticketing.offline_writer import PROMPT_VERSION as OFFLINE_PROMPT_VERSION
from ticketing.offline_writer import write_offline
from ticketing.policy import Policy
from warehouse import Warehouse

SYSTEM_ACTOR = "andon"


@dataclass
class DraftOutcome:
    """What one drafting pass did."""

    tickets: list[Ticket] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reproposed: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    auto_approved: list[str] = field(default_factory=list)


@dataclass
class Written:
    """A writer's result: the words, where they came from, what grounding found."""

    draft: TicketDraft
    provenance: Provenance
    grounding: GroundingReport


class Writer(ABC):
    """Turns a cluster and its fact-only ticket into words (see `OfflineWriter`, `ClaudeWriter`)."""

    @abstractmethod
    def write(self, cluster: Cluster, facts: Ticket, *, run_id: str, now: datetime) -> Written:
        """Draft the words of one ticket; the facts (numbers, ids, priority) are given."""


class OfflineWriter(Writer):
    """The deterministic writer: no model, no network."""

    def write(
        self, cluster: Cluster, facts: Ticket, *, run_id: str, now: datetime, reason: str = ""
    ) -> Written:
        draft = write_offline(
            cluster,
            facts.impact,
            facts.sample_trace_ids,
            facts.linked_support_tickets,
            facts.linked_error_groups,
        )
        return Written(
            draft=draft,
            provenance=Provenance(
                run_id=run_id,
                writer="offline",
                prompt_version=OFFLINE_PROMPT_VERSION,
                drafted_at=now,
                fallback_reason=reason,
            ),
            grounding=grounding.check(draft, facts),
        )


def facts_for(
    group: ClusterGroup | Cluster,
    settings: TicketingSettings,
    policy: Policy,
    *,
    window_days: float | None,
) -> Ticket:
    """A ticket with every measured fact filled in (from the group's clusters), no words yet."""
    if isinstance(group, Cluster):
        group = ClusterGroup(primary=group)
    cluster = group.primary
    impact = impact_of(cluster, window_days)
    priority, why = policy.priority_for(cluster.kind, impact)
    evidence = evidence_of(cluster, settings.max_sample_traces)
    traces = sample_traces(cluster, settings.max_sample_traces)
    tickets, errors = linked_tickets(cluster), linked_errors(cluster)
    for other in group.supporting:
        evidence += supporting_evidence(other, settings.max_sample_traces)
        traces += [t for t in sample_traces(other, settings.max_sample_traces) if t not in traces]
        tickets += [t for t in linked_tickets(other) if t not in tickets]
        errors += [e for e in linked_errors(other) if e not in errors]
    return Ticket(
        id=ticket_id_for(cluster.id),
        title=cluster.title or cluster.id,
        problem="",
        impact=impact,
        priority=priority,
        priority_reason=why,
        kind=cluster.kind,
        cluster_ids=group.cluster_ids,
        evidence=evidence,
        sample_trace_ids=traces[: settings.max_sample_traces],
        linked_support_tickets=tickets,
        linked_error_groups=errors,
        acceptance_criteria=acceptance_of(cluster, settings.acceptance_recovery),
        labels=["andon", cluster.kind],
    )


def facts_fingerprint(ticket: Ticket) -> str:
    """A hash of the measured facts: same figures and evidence, same fingerprint."""
    data = {
        "impact": ticket.impact.model_dump(exclude={"window_days", "score"}),
        "evidence": [e.model_dump() for e in ticket.evidence],
        "traces": ticket.sample_trace_ids,
        "tickets": ticket.linked_support_tickets,
        "errors": ticket.linked_error_groups,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _with_words(facts: Ticket, written: Written) -> Ticket:
    data = facts.model_dump()
    data.update(
        title=written.draft.title,
        problem=written.draft.problem,
        affected=written.draft.affected,
        suggested_scope=written.draft.suggested_scope,
        acceptance_notes=written.draft.acceptance_notes,
        provenance=written.provenance.model_dump(),
        grounding=written.grounding.model_dump(),
    )
    return Ticket.model_validate(data)


def _carry_facts(existing: Ticket, facts: Ticket) -> dict[str, object]:
    """The fields an evidence update replaces on an existing ticket."""
    fields = ("impact", "evidence", "sample_trace_ids", "linked_support_tickets",
              "linked_error_groups", "acceptance_criteria")  # fmt: skip
    changes: dict[str, object] = {name: getattr(facts, name) for name in fields}
    if existing.priority_reason.startswith("policy"):
        # A reviewer's priority override stands; policy priorities follow the new impact.
        changes["priority"] = facts.priority
        changes["priority_reason"] = facts.priority_reason
    return changes


def draft_tickets(
    wh: Warehouse,
    settings: TicketingSettings,
    policy: Policy,
    clusters: list[Cluster],
    *,
    run_id: str,
    now: datetime,
    window_days: float | None = None,
    writer: Writer | None = None,
) -> DraftOutcome:
    """Draft, update, re-propose or suppress a ticket per cluster (see module docstring)."""
    writer = writer or OfflineWriter()
    outcome = DraftOutcome()
    with store.write_lock():
        for group in group_clusters(clusters):
            cluster = group.primary
            facts = facts_for(group, settings, policy, window_days=window_days)
            existing = store.get(wh, facts.id)
            if existing is None:
                ticket = _with_words(facts, writer.write(cluster, facts, run_id=run_id, now=now))
                ticket = ticket.model_copy(
                    update={"version": 1, "created_at": now, "updated_at": now}
                )
                store.append(
                    wh,
                    ticket,
                    TicketEvent(
                        ticket_id=ticket.id, version=1, at=now, actor=SYSTEM_ACTOR,
                        action="proposed", to_status="proposed",
                        reason=f"drafted from cluster {cluster.id} in run {run_id}",
                        details={"writer": ticket.provenance.writer, "grounded": ticket.grounded},
                    ),
                )  # fmt: skip
                outcome.created.append(ticket.id)
                ticket = _maybe_auto_approve(wh, policy, ticket, now, outcome)
                outcome.tickets.append(ticket)
                continue
            if existing.status in OPEN_STATUSES:
                if facts_fingerprint(existing) == facts_fingerprint(facts):
                    outcome.unchanged.append(existing.id)
                    outcome.tickets.append(existing)
                    continue
                changes = _carry_facts(existing, facts)
                if existing.status == "proposed":
                    redraft = _with_words(
                        facts, writer.write(cluster, facts, run_id=run_id, now=now)
                    )
                    for name in ("title", "problem", "affected", "suggested_scope",
                                 "acceptance_notes", "provenance", "grounding"):  # fmt: skip
                        changes[name] = getattr(redraft, name)
                else:
                    merged = existing.model_copy(update=changes)
                    report = grounding.check(grounding.draft_of(merged), merged)
                    changes["grounding"] = report
                before = existing.impact.affected_sessions
                ticket, event = transition(
                    existing,
                    "evidence_updated",
                    actor=SYSTEM_ACTOR,
                    at=now,
                    reason=(
                        f"new evidence from run {run_id}: affected sessions {before} -> "
                        f"{facts.impact.affected_sessions}"
                    ),
                    details={
                        "run_id": run_id,
                        "affected_sessions": {
                            "before": before,
                            "after": facts.impact.affected_sessions,
                        },
                        "value": {"before": existing.impact.value, "after": facts.impact.value},
                        "redrafted": existing.status == "proposed",
                    },
                    changes=changes,
                )
                store.append(wh, ticket, event)
                outcome.updated.append(ticket.id)
                outcome.tickets.append(ticket)
                continue
            # rejected
            if not policy.may_repropose(existing.rejected_impact, facts.impact):
                outcome.suppressed.append(existing.id)
                continue
            fresh = _with_words(facts, writer.write(cluster, facts, run_id=run_id, now=now))
            changes = {
                name: getattr(fresh, name)
                for name in ("title", "problem", "affected", "suggested_scope", "acceptance_notes",
                             "provenance", "grounding", "impact", "evidence", "sample_trace_ids",
                             "linked_support_tickets", "linked_error_groups", "cluster_ids",
                             "acceptance_criteria", "priority", "priority_reason")
            }  # fmt: skip
            ticket, event = transition(
                existing,
                "reproposed",
                actor=SYSTEM_ACTOR,
                at=now,
                reason=(
                    f"impact grew from {existing.rejected_impact} to "
                    f"{facts.impact.affected_sessions} affected sessions (policy: "
                    f"x{policy.reproposal.impact_growth:g}) since it was rejected"
                ),
                details={"run_id": run_id, "previous_rejection": existing.status_reason},
                changes=changes,
            )
            store.append(wh, ticket, event)
            outcome.reproposed.append(ticket.id)
            outcome.tickets.append(ticket)
    return outcome


def _maybe_auto_approve(
    wh: Warehouse, policy: Policy, ticket: Ticket, now: datetime, outcome: DraftOutcome
) -> Ticket:
    rule = policy.auto_approver(ticket)
    if rule is None:
        return ticket
    approved, event = transition(
        ticket,
        "auto_approved",
        actor=f"policy:{rule.name}",
        at=now,
        reason=f"autonomy rule {rule.name!r} lets this ticket class skip review",
        details={"rule": rule.model_dump()},
    )
    store.append(wh, approved, event)
    outcome.auto_approved.append(approved.id)
    return approved
