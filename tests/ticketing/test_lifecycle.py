"""Drafting, dedupe and the review lifecycle against a real chDB warehouse."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from errors import ConflictError, InputError, NotFoundError
from settings import Settings
from tests.ticketing.clusters import dropoff_cluster, slow_cluster
from ticketing import service
from ticketing.drafting import draft_tickets
from ticketing.policy import AutoApproveRule, AutonomySection, Policy
from warehouse import Warehouse

NOW = datetime(2026, 11, 21, 12, 0, 0)


def _draft(warehouse: Warehouse, settings: Settings, clusters, run: str, now=NOW, policy=None):
    return draft_tickets(
        warehouse,
        settings.ticketing,
        policy or Policy(),
        clusters,
        run_id=run,
        now=now,
        window_days=7,
    )


def test_offline_drafts_are_complete_grounded_and_prioritised_by_policy(warehouse, settings):
    outcome = _draft(warehouse, settings, [dropoff_cluster(), slow_cluster()], "run-1")
    assert len(outcome.created) == 2
    tickets = {t.kind: t for t in service.list_tickets(warehouse)}
    drop = tickets["dropoff"]
    assert drop.grounded and drop.grounding.checked > 10
    assert drop.priority == "P0"  # 2,140 sessions at 2.9x the baseline: default policy rule 1
    assert drop.priority_reason.startswith("policy rule 1")
    assert drop.status == "proposed" and drop.version == 1
    assert "34.1%" in drop.title and "2,140 sessions" in drop.affected
    assert drop.linked_support_tickets == ["ZD-1042", "ZD-1077"]
    assert drop.sample_trace_ids and drop.evidence[0].sql
    criterion = drop.acceptance_criteria[0]
    assert (criterion.metric, criterion.comparison, criterion.threshold) == (
        "dropoff_rate",
        "<=",
        0.163,
    )
    assert criterion.segment == {"os.name": "iOS"}
    assert drop.provenance.writer == "offline" and drop.provenance.run_id == "run-1"
    assert tickets["slow_step"].priority == "P2"


def test_dedupe_across_two_runs_updates_the_open_ticket(warehouse, settings):
    first = _draft(warehouse, settings, [dropoff_cluster()], "run-1")
    again = _draft(warehouse, settings, [dropoff_cluster()], "run-2", NOW + timedelta(hours=1))
    assert again.unchanged == first.created and not again.created
    grown = dropoff_cluster(affected_sessions=2600)
    third = _draft(warehouse, settings, [grown], "run-3", NOW + timedelta(hours=2))
    assert third.updated == first.created and not third.created
    [ticket] = service.list_tickets(warehouse)
    assert ticket.impact.affected_sessions == 2600 and "2,600 sessions" in ticket.affected
    assert ticket.grounded
    actions = [e.action for e in service.history(warehouse, ticket.id)]
    assert actions == ["proposed", "evidence_updated"]


def test_full_lifecycle_and_audit_trail(warehouse, settings):
    [tid] = _draft(warehouse, settings, [dropoff_cluster()], "run-1").created
    with pytest.raises(ConflictError, match="approve it first"):
        service.export(warehouse, settings.ticketing, tid, "files", "alice")
    edited = service.edit(
        warehouse, tid, "alice", {"title": "Address form fails for iOS users"}, "clearer"
    )
    assert edited.status == "edited" and edited.grounded
    approved = service.approve(warehouse, tid, "bob")
    assert approved.status == "approved"
    with pytest.raises(ConflictError, match="already approved"):
        service.approve(warehouse, tid, "bob")
    [result] = service.export(warehouse, settings.ticketing, tid, "files", "bob")
    assert result.created
    [again] = service.export(warehouse, settings.ticketing, tid, "files", "bob")
    assert not again.created and again.external_id == result.external_id
    events = service.history(warehouse, tid)
    assert [(e.action, e.actor, e.to_status) for e in events] == [
        ("proposed", "andon", "proposed"),
        ("edited", "alice", "edited"),
        ("approved", "bob", "approved"),
        ("exported", "bob", "exported"),
    ]
    assert events[1].details["title"]["after"] == "Address form fails for iOS users"
    assert [e.version for e in events] == [1, 2, 3, 4]


def test_rejected_ticket_returns_only_when_impact_grows_past_policy(warehouse, settings):
    [tid] = _draft(warehouse, settings, [dropoff_cluster()], "run-1").created
    with pytest.raises(InputError, match="reason"):
        service.reject(warehouse, tid, "alice", "")
    service.reject(warehouse, tid, "alice", "known issue, fix in 4.3")
    small_growth = _draft(warehouse, settings, [dropoff_cluster(affected_sessions=3000)], "run-2")
    assert small_growth.suppressed == [tid] and not small_growth.tickets
    assert service.get_ticket(warehouse, tid).status == "rejected"
    big = _draft(warehouse, settings, [dropoff_cluster(affected_sessions=3300)], "run-3")
    assert big.reproposed == [tid]
    ticket = service.get_ticket(warehouse, tid)
    assert ticket.status == "proposed" and "2140 to 3300" in ticket.status_reason


def test_edit_rules(warehouse, settings):
    [tid] = _draft(warehouse, settings, [dropoff_cluster()], "run-1").created
    with pytest.raises(InputError, match="cannot be edited"):
        service.edit(warehouse, tid, "alice", {"status": "approved"})
    with pytest.raises(InputError, match="changes nothing"):
        service.edit(warehouse, tid, "alice", {"title": service.get_ticket(warehouse, tid).title})
    changed = service.edit(
        warehouse, tid, "alice", {"priority": "P2", "problem": "It fails for 9,999 users " * 3}
    )
    assert changed.priority == "P2" and changed.priority_reason.startswith("set by alice")
    assert not changed.grounded  # the reviewer typed a figure the evidence does not have
    assert changed.grounding.failures[0].token == "9,999"
    with pytest.raises(NotFoundError):
        service.get_ticket(warehouse, "TKT-nope")


def test_policy_autonomy_lets_a_named_class_skip_the_gate(warehouse, settings):
    policy = Policy(
        autonomy=AutonomySection(
            auto_approve=[AutoApproveRule(name="slow", kinds=["slow_step"], max_priority="P2")]
        )
    )
    outcome = _draft(
        warehouse, settings, [dropoff_cluster(), slow_cluster()], "run-1", policy=policy
    )
    assert len(outcome.auto_approved) == 1
    by_kind = {t.kind: t for t in service.list_tickets(warehouse)}
    assert by_kind["slow_step"].status == "approved"
    assert by_kind["dropoff"].status == "proposed"  # P0: not in the rule's class
    [event] = [
        e
        for e in service.history(warehouse, by_kind["slow_step"].id)
        if e.action == "auto_approved"
    ]
    assert event.actor == "policy:slow"


def test_filters(warehouse, settings):
    _draft(warehouse, settings, [dropoff_cluster(), slow_cluster()], "run-1")
    assert [t.kind for t in service.list_tickets(warehouse, priority="P2")] == ["slow_step"]
    assert [t.kind for t in service.list_tickets(warehouse, kind="dropoff")] == ["dropoff"]
    assert service.list_tickets(warehouse, status="approved") == []
    with pytest.raises(InputError):
        service.list_tickets(warehouse, status="done")
