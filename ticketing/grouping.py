"""Which clusters make one ticket: a user friction with the support-ticket theme and the error
group that are linked to it is one problem, so one ticket.

Friction clusters (dropoff, retry, error_abandon, slow_step) lead. A ``ticket_theme`` cluster
joins the friction whose ``linked_theme_ids`` name its theme; an ``error_group`` cluster joins the
friction whose ``linked_error_fingerprints`` share its fingerprint. When several frictions qualify,
the one with the highest score takes it. Clusters linked to no friction get tickets of their own.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.models import Cluster

LEADING_KINDS = frozenset({"dropoff", "retry", "error_abandon", "slow_step"})


@dataclass
class ClusterGroup:
    """One ticket's clusters: the one that leads (title, impact, priority) and the ones that
    support it with more evidence."""

    primary: Cluster
    supporting: list[Cluster] = field(default_factory=list)

    @property
    def cluster_ids(self) -> list[str]:
        return [self.primary.id, *(c.id for c in self.supporting)]


def _links(cluster: Cluster) -> set[str]:
    """The theme ids and error fingerprints a cluster is about or linked to."""
    return set(cluster.linked_theme_ids) | set(cluster.linked_error_fingerprints)


def group_clusters(clusters: list[Cluster]) -> list[ClusterGroup]:
    """Group clusters into tickets (see module docstring); order follows the leading clusters."""
    leaders = sorted(
        (c for c in clusters if c.kind in LEADING_KINDS), key=lambda c: (-c.score, c.id)
    )
    groups = {c.id: ClusterGroup(primary=c) for c in leaders}
    alone: list[ClusterGroup] = []
    for cluster in clusters:
        if cluster.kind in LEADING_KINDS:
            continue
        own = (
            set(cluster.linked_theme_ids)
            if cluster.kind == "ticket_theme"
            else set(cluster.linked_error_fingerprints)
        )
        home = next((g for g in groups.values() if own and own & _links(g.primary)), None)
        if home is None:
            alone.append(ClusterGroup(primary=cluster))
        else:
            home.supporting.append(cluster)
    return [*groups.values(), *alone]
