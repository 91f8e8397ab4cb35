"""Error groups: who each new or regressed fingerprint reached, and the ticket themes it links to."""

from __future__ import annotations

import re
from datetime import timedelta

from analysis.config import AnalysisSettings
from analysis.engine import AnalysisResult, analyse
from analysis.error_groups import error_group_reach
from analysis.models import Cluster, TicketTheme
from analysis.themes import link_themes
from ingest.tickets import Privacy, store, ticket_from_mapping
from simulator.manifest import Manifest
from tests.analysis.simdata import load_simulation, window
from warehouse import Warehouse


def _error_sessions(wh: Warehouse, fingerprint: str) -> set[str]:
    rows = wh.rows(
        f"SELECT DISTINCT SessionId FROM {wh.table('andon_errors')} "
        "WHERE Fingerprint = {fp:String} AND SessionId != ''",
        {"fp": fingerprint},
    )
    return {r[0] for r in rows}


def test_reach_is_every_session_and_user_the_fingerprint_hit(
    shop_default: tuple[Warehouse, Manifest],
) -> None:
    wh, manifest = shop_default
    since, until = window(manifest)
    result: AnalysisResult = analyse(wh, AnalysisSettings(), since, until, until)
    groups = [c for c in result.clusters if c.kind == "error_group"]
    assert groups  # the bad deploy's new error
    reach, words = error_group_reach(wh, groups, since, until)
    for c in groups:
        sessions, users = reach[c.id]
        assert sessions == _error_sessions(wh, c.linked_error_fingerprints[0])
        assert (len(sessions), len(users)) == (c.affected_sessions, c.affected_users)
        # the exception type's words (GatewayTimeoutError: gateway, timeout, error) link themes
        etype = re.search(r"error (\w+)", c.title)
        assert etype is not None
        camel = re.findall(r"[A-Z][a-z]+", etype.group(1))
        assert camel and {w.lower() for w in camel} <= words[c.id]
    assert error_group_reach(wh, [], since, until) == ({}, {})


def _group(cid: str) -> Cluster:
    return Cluster(id=cid, kind="error_group", metric="error_sessions", value=1, baseline=0)


def test_a_theme_links_to_the_error_group_its_tickets_sessions_hit() -> None:
    reach: dict[str, tuple[set[str], set[str]]] = {
        "cl-a": ({"s1", "s2", "s3"}, set()),
        "cl-b": ({"s8", "s9"}, set()),
    }
    theme = TicketTheme(id="theme-t", label="x", top_terms=["upload", "slow"],
                        ticket_ids=["T-1", "T-2"], session_ids=["s2", "s3"])  # fmt: skip
    a, b = _group("cl-a"), _group("cl-b")
    link_themes([theme], [a, b], reach, {})  # sessions alone: 2 shared, 4 points
    assert theme.linked_cluster_ids == ["cl-a"]
    assert a.linked_theme_ids == ["theme-t"] and a.linked_ticket_ids == ["T-1", "T-2"]
    assert not b.linked_theme_ids


def test_analyse_links_support_tickets_to_the_error_their_sessions_hit(
    warehouse: Warehouse,
) -> None:
    manifest = load_simulation(warehouse, "shop", seed=7, sessions=1200)
    since, until = window(manifest)
    cfg = AnalysisSettings(min_sessions=5)
    first = analyse(warehouse, cfg, since, until, until)
    group = next(c for c in first.clusters if c.kind == "error_group")
    hit = sorted(_error_sessions(warehouse, group.linked_error_fingerprints[0]))[:4]
    at = manifest.window_end.replace(tzinfo=None) - timedelta(hours=1)
    ticket = {
        "created_at": at.isoformat() + "Z",
        "subject": "card payment keeps failing",
        "body": "Paying for my order fails with a gateway timeout every single time.",
    }
    tickets = [
        ticket_from_mapping(
            {**ticket, "id": f"ERR-{i}", "session_id": sid},
            source="test",
            privacy=Privacy(redact=True),
        )
        for i, sid in enumerate(hit)
    ]
    store(warehouse, tickets)
    result = analyse(warehouse, cfg, since, until, until)
    linked = next(c for c in result.clusters if c.id == group.id)
    assert {f"ERR-{i}" for i in range(len(hit))} <= set(linked.linked_ticket_ids)
    theme = next(t for t in result.themes if "ERR-0" in t.ticket_ids)
    assert group.id in theme.linked_cluster_ids
