"""Deployments inferred from traces, for services whose deploys nobody reports.

A deployment is inferred when a ``service.version`` (resource attribute) appears for the first
time in ``otel_traces``: its start is the first span with that version. A service's earliest
version in the data is not a deployment (it was running before andon looked), and services with
any declared deployment (JSONL, GitHub, ``andon record deploy``) are left alone: declared
events are better evidence than inference. The commit is taken from ``vcs.ref.head.revision``
(or ``git.commit.sha``) when the resource carries it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from ingest.changes import Deployment, store
from warehouse import Warehouse

_FIRST_SEEN_SQL = """
SELECT service, version, environment, first_seen, commit, rank
FROM (
    SELECT
        ServiceName AS service,
        ResourceAttributes['service.version'] AS version,
        if(ResourceAttributes['deployment.environment.name'] != '',
           ResourceAttributes['deployment.environment.name'],
           ResourceAttributes['deployment.environment']) AS environment,
        min(Timestamp) AS first_seen,
        anyIf(if(ResourceAttributes['vcs.ref.head.revision'] != '',
                 ResourceAttributes['vcs.ref.head.revision'],
                 ResourceAttributes['git.commit.sha']),
              ResourceAttributes['vcs.ref.head.revision'] != ''
              OR ResourceAttributes['git.commit.sha'] != '') AS commit,
        row_number() OVER (PARTITION BY service, environment ORDER BY first_seen) AS rank
    FROM {traces}
    WHERE Timestamp < {until:DateTime64(9)} AND ResourceAttributes['service.version'] != ''
    GROUP BY service, version, environment
)
WHERE first_seen >= {since:DateTime64(9)} AND rank > 1
  AND service NOT IN (SELECT DISTINCT Service FROM {deployments} WHERE Source != 'inferred')
ORDER BY first_seen
"""


def inferred_id(service: str, version: str, environment: str) -> str:
    """The deterministic id of an inferred deployment."""
    digest = hashlib.sha256(f"{service}\x1f{version}\x1f{environment}".encode()).hexdigest()
    return f"inferred:{digest[:20]}"


def infer_deployments(warehouse: Warehouse, since: datetime, until: datetime) -> int:
    """Record inferred deployments first seen in [since, until); returns how many are new."""
    rows = warehouse.rows(
        _FIRST_SEEN_SQL.replace("{traces}", warehouse.table("otel_traces")).replace(
            "{deployments}", warehouse.table("andon_deployments")
        ),
        {"since": since, "until": until},
    )
    found = [
        Deployment(
            id=inferred_id(service, version, env),
            service=service,
            version=version,
            started_at=first_seen,
            commit_sha=(commit or "").lower(),
            environment=env,
            status="inferred",
            source="inferred",
        )
        for service, version, env, first_seen, commit, _rank in rows
    ]
    stored, _ = store(warehouse, found)
    return stored
