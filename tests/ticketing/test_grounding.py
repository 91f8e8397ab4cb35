"""The grounding check: wrong figures, invented ids and PRs fail; faithful paraphrases pass."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.models import Cluster
from tests.ticketing.clusters import TRACES, dropoff_cluster, slow_cluster
from ticketing import grounding
from ticketing.config import TicketingSettings
from ticketing.drafting import facts_for
from ticketing.models import Ticket, TicketDraft
from ticketing.offline_writer import write_offline
from ticketing.policy import Policy


def _facts(cluster: Cluster | None = None) -> Ticket:
    return facts_for(cluster or dropoff_cluster(), TicketingSettings(), Policy(), window_days=7)


def _draft(
    problem: str, title: str = "Checkout drop-off at the address step on iOS"
) -> TicketDraft:
    return TicketDraft(
        title=title,
        problem=f"{problem} The address step is where users leave the flow.",
        affected="Sessions on iOS in the checkout flow.",
        suggested_scope=["Replay the sample traces."],
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "34.1% of iOS sessions drop off at the address step, against 11.8% elsewhere.",
        "About 34% of sessions drop off, nearly 3x the baseline of 12%.",
        "Drop-off is up 189% (22.3 percentage points) on iOS.",
        "2,140 sessions (about 2.1k) from 1,893 users in the last 7 days were affected.",
        "An estimated 478 conversions were lost; 0.34 of sessions leave.",
        "app.version=4.2.0 makes up 64% of affected sessions against 20% of the others (3.2x).",
        f"Trace {TRACES[0]} and session sess-a1b2c3 show it; see ZD-1042 and error 9f2c4e1a77b0d3e5.",
        "The fix should bring the drop-off rate to 16.3% or lower.",
        "POST /api/v2/checkout/address fails for os.name=iOS (p75 and P1 are words, not figures).",
    ],
)
def test_faithful_paraphrases_pass(sentence: str) -> None:
    report = grounding.check(_draft(sentence), _facts())
    assert report.passed, report.failures


@pytest.mark.parametrize(
    ("sentence", "kind", "token"),
    [
        ("41% of iOS sessions drop off at the address step.", "number", "41%"),
        ("3,140 sessions were affected.", "number", "3,140"),
        ("Drop-off is 5x the baseline.", "number", "5x"),
        (f"Trace {'ab' * 16} shows the failure.", "trace_id", "ab" * 16),
        ("PR #482 introduced the new validator.", "pr", "PR #482"),
        ("It started with pull request 77.", "pr", "pull request 77"),
        ("Support ticket ZD-9999 says so.", "ticket_id", "ZD-9999"),
        ("Session sess-ffffff ended at the step.", "session_id", "sess-ffffff"),
        ("Error group 0123456789abcdef is linked.", "error_id", "0123456789abcdef"),
        ("Since release 4.3.1 the form fails.", "number", "4.3.1"),
        ("It began on 2026-10-02.", "number", "2026-10-02"),
    ],
)
def test_unsupported_claims_fail(sentence: str, kind: str, token: str) -> None:
    report = grounding.check(_draft(sentence), _facts())
    assert not report.passed
    assert [(f.kind, f.token) for f in report.failures] == [(kind, token)]
    assert report.failures[0].field == "problem"


def test_failures_name_the_field():
    draft = _draft(
        "Fine text without figures here, only words about the address step.",
        title="99% drop off on iOS",
    )
    [failure] = grounding.check(draft, _facts()).failures
    assert (failure.field, failure.token) == ("title", "99%")


@pytest.mark.parametrize("make", [dropoff_cluster, slow_cluster])
def test_offline_writer_is_grounded_by_construction(make) -> None:
    facts = _facts(make())
    draft = write_offline(
        make(),
        facts.impact,
        facts.sample_trace_ids,
        facts.linked_support_tickets,
        facts.linked_error_groups,
    )
    report = grounding.check(draft, facts)
    assert report.passed, report.failures


@settings(max_examples=60, deadline=None)
@given(
    value=st.floats(min_value=0.01, max_value=0.99),
    baseline=st.floats(min_value=0.01, max_value=0.99),
    sessions=st.integers(min_value=1, max_value=5_000_000),
    users=st.integers(min_value=0, max_value=5_000_000),
    lost=st.floats(min_value=0, max_value=100_000),
    days=st.sampled_from([0.25, 1.0, 1.04, 7.0, 30.0]),
)
def test_offline_drafts_pass_for_any_figures(value, baseline, sessions, users, lost, days) -> None:
    cluster = dropoff_cluster(
        value=value,
        baseline=baseline,
        affected_sessions=sessions,
        affected_users=users,
        lost_conversions=lost,
    )
    facts = facts_for(cluster, TicketingSettings(), Policy(), window_days=days)
    draft = write_offline(
        cluster,
        facts.impact,
        facts.sample_trace_ids,
        facts.linked_support_tickets,
        facts.linked_error_groups,
    )
    report = grounding.check(draft, facts)
    assert report.passed, (report.failures, draft.title, draft.problem, draft.affected)
