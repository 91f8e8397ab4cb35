"""Memory: past incidents that look like this one, and how they were resolved (pure).

Similarity adds up shared traits: the same origin service and operation, the same route, the
same error fingerprint, the same culprit pattern (the top suspect's service, or changed files in
the same place). Resolved incidents rank first at equal similarity, since their notes say what
fixed it.
"""

from __future__ import annotations

from rca.models import Incident, SimilarIncident
from rca.suspects import tokens

TRAITS: dict[str, float] = {
    "origin": 0.35,
    "route": 0.25,
    "fingerprint": 0.25,
    "culprit": 0.15,
    "service": 0.1,
}


def _culprit(incident: Incident) -> str:
    if not incident.suspects:
        return ""
    top = incident.suspects[0]
    pr = f" PR #{top.pr_number}" if top.pr_number else ""
    return f"{top.service} {top.version}{pr}"


def similar(incident: Incident, past: list[Incident], limit: int = 3) -> list[SimilarIncident]:
    """The most similar other incidents (before this one's onset), best first."""
    found: list[SimilarIncident] = []
    mine_fps = set(incident.new_fingerprints) | {
        d.fingerprint for d in incident.degradations if d.fingerprint
    }
    mine_files = set().union(*(tokens(f) for s in incident.suspects[:1] for f in s.pr_files))
    for other in past:
        if other.id == incident.id or other.onset >= incident.onset:
            continue
        reasons: list[str] = []
        score = 0.0
        if (
            incident.origin
            and other.origin
            and (incident.origin.service, incident.origin.operation)
            == (
                other.origin.service,
                other.origin.operation,
            )
        ):
            score += TRAITS["origin"]
            reasons.append(f"same origin {other.origin.service} {other.origin.operation}")
        if incident.route and (incident.service, incident.route) == (other.service, other.route):
            score += TRAITS["route"]
            reasons.append(f"same route {other.service} {other.route}")
        elif incident.service == other.service:
            score += TRAITS["service"]
            reasons.append(f"same service {other.service}")
        theirs = set(other.new_fingerprints) | {
            d.fingerprint for d in other.degradations if d.fingerprint
        }
        if mine_fps & theirs:
            score += TRAITS["fingerprint"]
            reasons.append(f"same error fingerprint {sorted(mine_fps & theirs)[0][:16]}")
        if incident.suspects and other.suspects:
            a, b = incident.suspects[0], other.suspects[0]
            other_files = set().union(*(tokens(f) for f in b.pr_files))
            if a.service == b.service and (mine_files & other_files or not mine_files):
                score += TRAITS["culprit"]
                reasons.append(f"same culprit pattern: a {b.service} deploy" + (
                    f" touching {', '.join(sorted(mine_files & other_files)[:3])}" if mine_files & other_files else ""
                ))  # fmt: skip
        if score < 0.25:
            continue
        found.append(
            SimilarIncident(
                id=other.id,
                service=other.service,
                route=other.route,
                signal=other.signal,
                onset=other.onset,
                status=other.status,
                similarity=round(min(score, 1.0), 3),
                reasons=reasons,
                resolution=other.resolution,
                culprit=_culprit(other),
            )
        )
    found.sort(key=lambda s: (-s.similarity, s.status != "resolved", -s.onset.timestamp()))
    return found[:limit]
