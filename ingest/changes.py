"""CI/CD change events: merged pull requests, deployments and gate verdicts.

They arrive as JSON lines (``andon ingest changes FILE.jsonl``), GitHub webhooks
(`ingest.github`) or ``andon record deploy|gate``; all three end up as the typed records here
and are stored idempotently: the same event twice is one row; a changed event (a deployment
that finished, a PR whose title was edited) adds a row with the same key, and readers take the
latest with ``FINAL`` or ``argMax(..., IngestedAt)``.

One JSON object per line, ``type`` one of:

- ``pull_request``: repo, number, title, author, merged_at, merge_commit_sha, files, url, labels
- ``deployment``: id, service, version, commit_sha, environment, started_at, finished_at,
  status, repo
- ``gate_verdict``: gate, verdict (pass|fail|waived), pr_number and/or commit_sha, at,
  environment, measurements ({name: number}), details, repo, id (optional)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from errors import InputError
from ingest import fields
from ingest.report import IngestReport, Rejection
from ingest.store import insert_new
from warehouse import Warehouse

VERDICTS = ("pass", "fail", "waived")
DEPLOY_STATUSES = ("success", "failure", "error", "in_progress", "queued", "pending", "inactive", "inferred")  # fmt: skip


def _hash(values: Sequence[Any]) -> str:
    return hashlib.sha256(json.dumps(values, default=str, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PullRequest:
    repo: str
    number: int
    title: str
    author: str
    merged_at: datetime
    merge_commit_sha: str = ""
    files: tuple[str, ...] = ()
    url: str = ""
    labels: tuple[str, ...] = ()
    source: str = "jsonl"

    TABLE = "andon_pull_requests"
    COLUMNS = ("Repo", "Number", "Title", "Author", "MergedAt", "MergeCommitSha", "Files", "Url", "Labels", "Source", "ContentHash")  # fmt: skip
    KEY = ("Repo", "Number")

    def row(self) -> tuple[Any, ...]:
        values = astuple(self)
        return (*[list(v) if isinstance(v, tuple) else v for v in values], _hash(values[:-1]))


@dataclass(frozen=True)
class Deployment:
    id: str
    service: str
    version: str
    started_at: datetime
    commit_sha: str = ""
    environment: str = ""
    finished_at: datetime | None = None
    status: str = "success"
    repo: str = ""
    source: str = "jsonl"

    TABLE = "andon_deployments"
    COLUMNS = ("DeploymentId", "Service", "Version", "StartedAt", "CommitSha", "Environment", "FinishedAt", "Status", "Repo", "Source", "ContentHash")  # fmt: skip
    KEY = ("DeploymentId",)

    def row(self) -> tuple[Any, ...]:
        values = astuple(self)
        return (*values, _hash(values[:-1]))


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    verdict: str
    at: datetime
    repo: str = ""
    pr_number: int = 0
    commit_sha: str = ""
    environment: str = ""
    measurements: Mapping[str, float] = field(default_factory=dict)
    details: str = ""
    source: str = "jsonl"
    id: str = ""

    TABLE = "andon_gate_verdicts"
    COLUMNS = ("VerdictId", "Gate", "Verdict", "At", "Repo", "PrNumber", "CommitSha", "Environment", "Measurements", "Details", "Source", "ContentHash")  # fmt: skip
    KEY = ("VerdictId",)

    @property
    def verdict_id(self) -> str:
        """The given id, else a hash of what identifies the event (same event, same id)."""
        if self.id:
            return self.id
        ident = [self.gate, self.repo, self.pr_number, self.commit_sha, self.environment, self.at]
        return "gv-" + _hash(ident)[:24]

    def row(self) -> tuple[Any, ...]:
        content = [
            self.gate, self.verdict, self.at, self.repo, self.pr_number, self.commit_sha,
            self.environment, dict(self.measurements), self.details,
        ]  # fmt: skip
        return (self.verdict_id, *content, self.source, _hash(content))


Change = PullRequest | Deployment | GateVerdict


def pull_request_from(data: Mapping[str, Any], source: str = "jsonl") -> PullRequest:
    merged = fields.time_field(data, "merged_at", required=True)
    assert merged is not None
    number = fields.integer(data, "number", required=True, minimum=1)
    assert number is not None
    return PullRequest(
        repo=fields.text(data, "repo", required=True, limit=300),
        number=number,
        title=fields.text(data, "title", limit=1000),
        author=fields.text(data, "author", limit=200),
        merged_at=merged,
        merge_commit_sha=fields.text(data, "merge_commit_sha", limit=64).lower(),
        files=tuple(fields.string_list(data, "files")),
        url=fields.text(data, "url", limit=1000),
        labels=tuple(fields.string_list(data, "labels")),
        source=source,
    )


def deployment_from(data: Mapping[str, Any], source: str = "jsonl") -> Deployment:
    started = fields.time_field(data, "started_at", required=True)
    assert started is not None
    finished = fields.time_field(data, "finished_at")
    if finished is not None and finished < started:
        raise InputError("finished before it started", field="finished_at")
    status = fields.text(data, "status").lower() or "success"
    if status not in DEPLOY_STATUSES:
        raise InputError(f"unknown status {status!r}: use one of {', '.join(DEPLOY_STATUSES)}", field="status")  # fmt: skip
    return Deployment(
        id=fields.text(data, "id", required=True, limit=300),
        service=fields.text(data, "service", required=True, limit=300),
        version=fields.text(data, "version", required=True, limit=300),
        started_at=started,
        commit_sha=fields.text(data, "commit_sha", limit=64).lower(),
        environment=fields.text(data, "environment", limit=100),
        finished_at=finished,
        status=status,
        repo=fields.text(data, "repo", limit=300),
        source=source,
    )


def measurements_from(value: Any, name: str = "measurements") -> dict[str, float]:
    """``{name: number}``; numbers may be JSON numbers or numeric strings."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise InputError("expected an object of name: number", field=name)
    return {str(k): fields.number(v, f"{name}.{k}") for k, v in value.items()}


def gate_verdict_from(data: Mapping[str, Any], source: str = "jsonl") -> GateVerdict:
    at = fields.time_field(data, "at", required=True)
    assert at is not None
    verdict = fields.text(data, "verdict", required=True).lower()
    if verdict not in VERDICTS:
        raise InputError(f"must be one of {', '.join(VERDICTS)}, got {verdict!r}", field="verdict")
    pr_number = fields.integer(data, "pr_number") or 0
    commit = fields.text(data, "commit_sha", limit=64).lower()
    if not pr_number and not commit:
        raise InputError("a verdict needs pr_number or commit_sha", field="pr_number")
    details = data.get("details")
    return GateVerdict(
        gate=fields.text(data, "gate", required=True, limit=300),
        verdict=verdict,
        at=at,
        repo=fields.text(data, "repo", limit=300),
        pr_number=pr_number,
        commit_sha=commit,
        environment=fields.text(data, "environment", limit=100),
        measurements=measurements_from(data.get("measurements")),
        details=json.dumps(details, sort_keys=True)
        if isinstance(details, dict | list)
        else fields.text(data, "details"),
        source=source,
        id=fields.text(data, "id", limit=300),
    )


PARSERS: dict[str, Callable[[Mapping[str, Any], str], Change]] = {
    "pull_request": pull_request_from,
    "deployment": deployment_from,
    "gate_verdict": gate_verdict_from,
}


def change_from(data: Mapping[str, Any], source: str = "jsonl") -> Change:
    """One change event by its ``type``."""
    kind = fields.text(data, "type", required=True)
    parser = PARSERS.get(kind)
    if parser is None:
        raise InputError(f"unknown type {kind!r}: use one of {', '.join(PARSERS)}", field="type")
    return parser(data, source)


def store(wh: Warehouse, changes: Sequence[Change]) -> tuple[int, int]:
    """Store change events, one insert per table; returns (stored, duplicates).

    Every event is validated before this is called, so a batch is stored whole: the three
    tables are written one after the other, each in one insert.
    """
    stored = duplicates = 0
    for kind in (PullRequest, Deployment, GateVerdict):
        rows = [c.row() for c in changes if isinstance(c, kind)]
        s, d = insert_new(wh, kind.TABLE, kind.COLUMNS, rows, key_columns=kind.KEY, hash_column="ContentHash")  # fmt: skip
        stored, duplicates = stored + s, duplicates + d
    return stored, duplicates


def parse_lines(
    text: str, file: str, source: str = "jsonl"
) -> tuple[list[Change], list[Rejection]]:
    """Validate every line; bad ones become rejections naming file, line and field."""
    changes: list[Change] = []
    rejected: list[Rejection] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise InputError("expected a JSON object")
            changes.append(change_from(data, source))
        except ValueError as exc:
            rejected.append(Rejection(file, number, None, f"invalid JSON: {exc}"))
        except InputError as exc:
            rejected.append(Rejection.from_error(exc, file, number))
    return changes, rejected


def ingest_file(warehouse: Warehouse, path: str | Path) -> IngestReport:
    """Import a change-event JSONL file: valid lines stored, bad ones reported with their place."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", file=str(path)) from exc
    report = IngestReport(source="jsonl")
    changes, report.rejected = parse_lines(text, str(path))
    report.stored, report.duplicates = store(warehouse, changes)
    return report
