"""Support tickets: CSV, JSONL and Zendesk export files, webhook payloads -> andon_support_tickets.

One canonical shape (`Ticket`) whatever the source. Text is redacted (`ingest.redaction`) before
anything is stored, and the requester's email is kept only as a salted hash. Storage is
idempotent on (source, ticket id, content): the same ticket twice is stored once, an edited
ticket adds a row (its history), and readers take the latest version with
``argMax(..., (UpdatedAt, IngestedAt))`` per (Source, TicketId).

File columns (header names are case-insensitive): ``id, created_at, subject, body`` required;
``updated_at, channel, tags, user_id, session_id, status, priority, email`` optional; others
are ignored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from errors import InputError
from ingest import fields
from ingest.collectors_config import CollectorsSettings
from ingest.redaction import email_hash, redact
from ingest.report import IngestReport, Rejection
from ingest.store import insert_new
from warehouse import Warehouse

TABLE = "andon_support_tickets"
COLUMNS = (
    "Source", "TicketId", "ContentHash", "CreatedAt", "UpdatedAt", "Subject", "Body", "Channel",
    "Tags", "UserId", "SessionId", "EmailHash", "Status", "Priority",
)  # fmt: skip
FORMATS = ("csv", "jsonl", "zendesk")


@dataclass(frozen=True)
class Privacy:
    """How ticket text is cleaned before storage."""

    redact: bool = True
    salt: str | None = None

    @classmethod
    def from_settings(cls, settings: CollectorsSettings) -> Privacy:
        salt = settings.email_hash_salt.get_secret_value() if settings.email_hash_salt else None
        return cls(redact=settings.redact_tickets, salt=salt)


@dataclass(frozen=True)
class Ticket:
    """One version of a support ticket, already redacted."""

    source: str
    ticket_id: str
    created_at: datetime
    updated_at: datetime
    subject: str
    body: str
    channel: str = ""
    tags: tuple[str, ...] = ()
    user_id: str = ""
    session_id: str = ""
    email_hash: str = ""
    status: str = ""
    priority: str = ""

    @property
    def content_hash(self) -> str:
        parts = [
            self.created_at.isoformat(timespec="milliseconds"),
            self.updated_at.isoformat(timespec="milliseconds"),
            self.subject, self.body, self.channel, "\x1e".join(self.tags), self.user_id,
            self.session_id, self.email_hash, self.status, self.priority,
        ]  # fmt: skip
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def row(self) -> tuple[Any, ...]:
        return (
            self.source, self.ticket_id, self.content_hash, self.created_at, self.updated_at,
            self.subject, self.body, self.channel, list(self.tags), self.user_id,
            self.session_id, self.email_hash, self.status, self.priority,
        )  # fmt: skip


def ticket_from_mapping(data: Mapping[str, Any], *, source: str, privacy: Privacy) -> Ticket:
    """Validate one ticket in the canonical field names; `InputError` names the bad field."""
    clean = redact if privacy.redact else (lambda s: s)
    created = fields.time_field(data, "created_at", required=True)
    assert created is not None
    updated = fields.time_field(data, "updated_at") or created
    email = fields.text(data, "email")
    return Ticket(
        source=source,
        ticket_id=fields.text(data, "id", required=True, limit=200),
        created_at=created,
        updated_at=updated,
        subject=clean(fields.text(data, "subject", required=True, limit=10_000)),
        body=clean(fields.text(data, "body", required=True)),
        channel=fields.text(data, "channel", limit=100),
        tags=tuple(fields.string_list(data, "tags")),
        user_id=fields.text(data, "user_id", limit=500),
        session_id=fields.text(data, "session_id", limit=500),
        email_hash=email_hash(email, privacy.salt) if email and privacy.salt else "",
        status=fields.text(data, "status", limit=100).lower(),
        priority=fields.text(data, "priority", limit=100).lower(),
    )


# -- file readers: each yields (line, mapping) or (line, InputError) ------------------------------

Parsed = tuple[int | None, Mapping[str, Any] | InputError]


def read_csv(text: str) -> Iterator[Parsed]:
    """Rows of a CSV export as mappings keyed by lower-case header, with their line numbers."""
    first_line = text.split("\n", 1)[0]
    # Spreadsheet exports in many locales use ';' (or tabs): take whichever the header uses.
    delimiter = max(",;\t|", key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        return
    missing = [c for c in ("id", "created_at", "subject", "body") if c not in header]
    if missing:
        yield 1, InputError("header lacks a required column", line=1, field=missing[0])
        return
    line = reader.line_num + 1
    try:
        for values in reader:
            start, line = line, reader.line_num + 1  # a quoted cell may span several lines
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield start, InputError(f"expected {len(header)} cells, found {len(values)}")
                continue
            yield start, dict(zip(header, values, strict=True))
    except csv.Error as exc:
        yield line, InputError(f"unreadable CSV: {exc}")


def read_jsonl(text: str) -> Iterator[Parsed]:
    """One JSON object per line; blank lines are skipped."""
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            yield number, InputError(f"invalid JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield number, InputError("expected a JSON object")
            continue
        yield number, {str(k).lower(): v for k, v in value.items()}


def zendesk_to_mapping(
    ticket: Mapping[str, Any],
    users: Mapping[Any, Mapping[str, Any]],
    session_field: int | None = None,
) -> dict[str, Any]:
    """A Zendesk ticket object (incremental export shape) in the canonical field names."""
    requester = users.get(ticket.get("requester_id")) or {}
    via = ticket.get("via")
    channel = via.get("channel", "") if isinstance(via, dict) else ""
    session = ""
    custom = ticket.get("custom_fields")
    if session_field is not None and isinstance(custom, list):
        for item in custom:
            if isinstance(item, dict) and item.get("id") == session_field and item.get("value"):
                session = str(item["value"])
    return {
        "id": ticket.get("id"),
        "created_at": ticket.get("created_at"),
        "updated_at": ticket.get("updated_at"),
        "subject": ticket.get("subject") or ticket.get("raw_subject") or "(no subject)",
        "body": ticket.get("description") or "",
        "channel": channel,
        "tags": ticket.get("tags") or [],
        "user_id": requester.get("external_id") or "",
        "session_id": session,
        "email": requester.get("email") or "",
        "status": ticket.get("status") or "",
        "priority": ticket.get("priority") or "",
    }


def read_zendesk_pages(pages: list[Any], session_field: int | None = None) -> Iterator[Parsed]:
    """Tickets from Zendesk incremental-export pages (``{"tickets": [...], "users": [...]}``)."""
    for p, page in enumerate(pages):
        if not isinstance(page, dict) or not isinstance(page.get("tickets"), list):
            yield None, InputError("expected a page object with a 'tickets' list", field=f"[{p}]")
            continue
        users = {u.get("id"): u for u in page.get("users") or [] if isinstance(u, dict)}
        for i, ticket in enumerate(page["tickets"]):
            if not isinstance(ticket, dict):
                yield None, InputError("expected a ticket object", field=f"tickets[{i}]")
                continue
            yield None, _ZendeskItem(i, zendesk_to_mapping(ticket, users, session_field))


class _ZendeskItem(dict[str, Any]):
    """A converted Zendesk ticket that remembers its index, so errors say ``tickets[i].field``."""

    def __init__(self, index: int, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.index = index


def read_file(
    path: Path, fmt: str | None = None, session_field: int | None = None
) -> Iterator[Parsed]:
    """Parse a ticket file in ``fmt`` (default: from the suffix and content)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", file=str(path)) from exc
    fmt = fmt or _guess_format(path, text)
    if fmt == "csv":
        yield from read_csv(text)
    elif fmt == "jsonl":
        yield from read_jsonl(text)
    elif fmt == "zendesk":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise InputError(f"invalid JSON: {exc}", file=str(path)) from exc
        yield from read_zendesk_pages(doc if isinstance(doc, list) else [doc], session_field)
    else:
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}", file=str(path))


def _guess_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    head = text.lstrip()[:1]
    if suffix == ".json" or head in ("[", "{"):
        if head == "{" and "\n{" in text.strip():
            return "jsonl"
        return "zendesk"
    return "csv"


# -- ingest ---------------------------------------------------------------------------------------


def validate(
    parsed: Iterator[Parsed], *, file: str, source: str, privacy: Privacy
) -> tuple[list[Ticket], list[Rejection]]:
    """Turn parsed rows into tickets, collecting every rejection instead of stopping."""
    tickets: list[Ticket] = []
    rejected: list[Rejection] = []
    for line, item in parsed:
        if isinstance(item, InputError):
            rejected.append(Rejection.from_error(item, file, line))
            continue
        try:
            tickets.append(ticket_from_mapping(item, source=source, privacy=privacy))
        except InputError as exc:
            if isinstance(item, _ZendeskItem) and exc.field:
                exc = InputError(exc.reason, field=f"tickets[{item.index}].{exc.field}")
            rejected.append(Rejection.from_error(exc, file, line))
    return tickets, rejected


def store(wh: Warehouse, tickets: list[Ticket]) -> tuple[int, int]:
    """Store tickets in one insert; returns (stored, duplicates)."""
    return insert_new(
        wh,
        TABLE,
        COLUMNS,
        [t.row() for t in tickets],
        key_columns=("Source", "TicketId"),
        hash_column="ContentHash",
    )


def ingest_file(
    warehouse: Warehouse,
    path: str | Path,
    *,
    source: str | None = None,
    fmt: str | None = None,
    settings: CollectorsSettings | None = None,
) -> IngestReport:
    """Import a CSV, JSONL or Zendesk export file; valid rows are stored, bad ones reported.

    ``source`` defaults to the format (``csv``, ``jsonl``, ``zendesk``); ids are unique per
    source. Raises `InputError` only when the file itself cannot be read.
    """
    settings = settings or CollectorsSettings()
    path = Path(path)
    text_fmt = fmt or _guess_format(path, _peek(path))
    report = IngestReport(source=source or text_fmt)
    tickets, report.rejected = validate(
        read_file(path, text_fmt, settings.zendesk_session_field),
        file=str(path),
        source=report.source,
        privacy=Privacy.from_settings(settings),
    )
    report.stored, report.duplicates = store(warehouse, tickets)
    return report


def _peek(path: Path) -> str:
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            return fh.read(4096)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
