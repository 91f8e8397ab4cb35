"""The grounding check: every figure and id a ticket's text states must be in its evidence.

`check(draft_fields, ticket)` scans the words (title, problem, affected, scope, notes) for

- numbers (``2,140``, ``34%``, ``2.3x``, ``1.2 s``, ``2.1k``): each must equal, within the
  rounding the text shows, a figure of the evidence or one derived from it (percent of a
  fraction, relative change, ratio, difference, ms <-> s, counts of listed ids);
- trace ids (32 hex), other hex ids, UUIDs, and id-like tokens (letters + digits, e.g. a support
  ticket ``ZD-1042`` or a session ``sess_9f2c``): each must be an id the evidence lists;
- pull request references (``PR #123``, ``pull request 123``, ``#123``): must be in evidence;
- dates (``2026-11-14``) and versions (``4.2.0``): must appear in the evidence's text values.

Pure: no I/O. The allowed sets come from `Ticket.evidence`, `Ticket.impact` and the acceptance
thresholds (all computed by code), never from the text being checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ticketing.models import (
    FailureKind,
    GroundingFailure,
    GroundingReport,
    Ticket,
    TicketDraft,
)

_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_HEX = re.compile(r"(?<![\w-])[0-9a-f]{8,64}(?![\w-])")
_PR = re.compile(
    r"(?i)\b(?:PR|pull\s+request|merge\s+request|MR)\s*[#-]?\s*(\d+)\b|(?<![\w&])#(\d+)\b"
)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?\b")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
_VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.\d+){2,}(?![\w.]*\d)")
# An id named by its context: "session sess-ffffff", "ticket ZD-9", "trace id 4bf9...".
_CONTEXT_ID = re.compile(
    r"(?i)\b(?P<what>sessions?|tickets?|traces?|errors?(?:\s+groups?)?|fingerprints?|requests?)"
    r"\s+(?:ids?\s+)?#?(?P<id>[A-Za-z0-9][\w.:-]*[-_:][\w.:-]*[A-Za-z0-9]|[A-Za-z]*\d[\w]*)"
)
# An id-like token: letters and digits joined by - _ . or :, containing at least one digit.
_IDLIKE = re.compile(
    r"(?<![\w/.-])(?=[\w.:-]*\d)(?=[\w.:-]*[A-Za-z])[A-Za-z0-9]+(?:[-_.:][A-Za-z0-9]+)+(?![\w/-])"
)
_NUMBER = re.compile(
    r"(?<![\w.,/#-])(?P<sign>[-+−])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<suffix>\s?(?:k\b|K\b|M\b|x\b|×|%|\s?ms\b|\s?s\b|\s?pp\b))?(?![\w])"
)
_CONTEXT_KIND: tuple[tuple[re.Pattern[str], FailureKind], ...] = (
    (re.compile(r"(?i)trace"), "trace_id"),
    (re.compile(r"(?i)session"), "session_id"),
    (re.compile(r"(?i)ticket|zendesk|request"), "ticket_id"),
    (re.compile(r"(?i)error|exception|fingerprint|group"), "error_id"),
)


@dataclass
class Allowed:
    """What the evidence supports: figures, ids, and text values (segments, steps, versions)."""

    numbers: set[float] = field(default_factory=set)
    percents: set[float] = field(default_factory=set)
    ratios: set[float] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)
    prs: set[str] = field(default_factory=set)

    def add_number(self, value: float) -> None:
        if value is None or isinstance(value, bool) or not math.isfinite(value):
            return
        x = abs(float(value))
        # The forms a writer may state a figure in: as is, or seconds <-> milliseconds; as a
        # percentage (of a fraction, or already one); as a multiple (a lift, a ratio).
        self.numbers.update({x, x / 1000, x * 1000})
        self.percents.update({x * 100, x})

    def add_text(self, text: str) -> None:
        text = str(text).strip()
        if not text:
            return
        self.texts.add(text.lower())
        for part in re.split(r"[\s=,;()\[\]]+", text):
            if part and part != text:
                self.texts.add(part.lower())
        for match in re.finditer(r"\d+(?:\.\d+)?", text):
            self.add_number(float(match.group()))
        for match in _IDLIKE.finditer(text):
            self.ids.add(match.group().lower())


def allowed_from(ticket: Ticket) -> Allowed:
    """Everything a ticket's text may cite, from its evidence, impact and acceptance criteria."""
    allowed = Allowed()
    imp = ticket.impact
    base_figures = [
        imp.value,
        imp.baseline,
        imp.affected_sessions,
        imp.affected_users,
        imp.lost_conversions,
        imp.score,
    ]
    if imp.window_days:
        base_figures += [imp.window_days, imp.window_days * 24]
    for figure in base_figures:
        allowed.add_number(figure)
    _add_pair(allowed, imp.value, imp.baseline)
    for text in [imp.flow, imp.step, imp.metric, *imp.segment.keys(), *imp.segment.values()]:
        allowed.add_text(text)
    for item in ticket.evidence:
        numeric: dict[str, float] = {}
        for key, value in item.values.items():
            allowed.add_text(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                allowed.add_number(value)
                numeric[key] = float(value)
                if any(w in key.lower() for w in ("lift", "ratio", "multiple", "times")):
                    allowed.ratios.add(abs(float(value)))
            else:
                allowed.add_text(value)
                if "pr" in key.lower().split("_") or key.lower() in {
                    "pr",
                    "pr_number",
                    "pull_request",
                }:
                    allowed.prs.add(str(value).lstrip("#"))
            if key.lower() in {"pr", "pr_number", "pull_request"} and isinstance(
                value, int | float
            ):
                allowed.prs.add(str(int(value)))
        # Comparisons the evidence itself sets up: value vs baseline, X vs baseline_X /
        # previous_X, "<segment> affected_share" vs "<segment> baseline_share".
        for key, a in numeric.items():
            for other in _counterparts(key):
                b = numeric.get(other)
                if b is not None:
                    _add_pair(allowed, a, b)
        for ids in (item.trace_ids, item.session_ids, item.ticket_ids, item.error_fingerprints):
            allowed.add_number(len(ids))
            allowed.ids.update(i.lower() for i in ids)
        allowed.ids.add(item.id.lower())
        if item.cluster_id:
            allowed.ids.add(item.cluster_id.lower())
    for listing in (
        ticket.sample_trace_ids,
        ticket.linked_support_tickets,
        ticket.linked_error_groups,
        ticket.cluster_ids,
    ):
        allowed.add_number(len(listing))
        allowed.ids.update(i.lower() for i in listing)
    allowed.add_number(len(ticket.evidence))
    allowed.ids.add(ticket.id.lower())
    for criterion in ticket.acceptance_criteria:
        allowed.add_number(criterion.threshold)
        _add_pair(allowed, criterion.threshold, imp.baseline)
    return allowed


def _counterparts(key: str) -> list[str]:
    """The keys a value is naturally compared with."""
    out = [f"baseline_{key}", f"previous_{key}", f"{key}_baseline"]
    if key == "value":
        out.append("baseline")
    if "affected" in key:
        out.append(key.replace("affected", "baseline"))
    return out


def _add_pair(allowed: Allowed, value: float, baseline: float) -> None:
    """Figures derived from comparing two measured values."""
    if not all(isinstance(x, int | float) and math.isfinite(x) for x in (value, baseline)):
        return
    allowed.add_number(value - baseline)  # a difference (also in percentage points)
    if baseline:
        allowed.percents.add(abs(value - baseline) / abs(baseline) * 100)
        allowed.ratios.add(abs(value / baseline))
    if value:
        allowed.percents.add(abs(baseline - value) / abs(value) * 100)
        allowed.ratios.add(abs(baseline / value))


def _matches(written: float, decimals: int, candidates: Iterable[float]) -> bool:
    tolerance = 0.5 * 10 ** (-decimals) + 1e-9
    return any(abs(written - c) <= tolerance for c in candidates)


def _kind_from_context(text: str, start: int, default: FailureKind) -> FailureKind:
    before = text[max(0, start - 30) : start]
    for pattern, kind in _CONTEXT_KIND:
        if pattern.search(before):
            return kind
    return default


def check_text(text: str, where: str, allowed: Allowed) -> tuple[int, list[GroundingFailure]]:
    """Check one field's text; returns (claims checked, failures)."""
    failures: list[GroundingFailure] = []
    checked = 0
    work = text
    # Text values the evidence itself contains (segment values, routes, versions) are fine as
    # they are; blank them so their digits are not read as figures.
    for known in sorted(
        (t for t in allowed.texts if any(ch.isdigit() for ch in t)), key=len, reverse=True
    ):
        if len(known) >= 2:
            work = re.sub(
                rf"(?<!\w){re.escape(known)}(?!\w)",
                lambda m: " " * len(m.group()),
                work,
                flags=re.IGNORECASE,
            )

    def blank(match: re.Match[str]) -> None:
        nonlocal work
        work = work[: match.start()] + " " * (match.end() - match.start()) + work[match.end() :]

    for pattern in (_UUID, _HEX):
        for match in list(pattern.finditer(work)):
            token = match.group()
            if pattern is _HEX and not (any(c.isdigit() for c in token) or len(token) >= 12):
                continue  # an ordinary word made of a-f letters ("deadbeef" is rare in prose)
            checked += 1
            if token.lower() not in allowed.ids:
                kind: FailureKind = (
                    "trace_id"
                    if len(token) == 32
                    else _kind_from_context(work, match.start(), "id")
                )
                failures.append(
                    GroundingFailure(
                        field=where, kind=kind, token=token, reason="not an id in the evidence"
                    )
                )
            blank(match)
    for match in list(_PR.finditer(work)):
        number = match.group(1) or match.group(2)
        checked += 1
        if number not in allowed.prs and f"#{number}" not in allowed.texts:
            failures.append(
                GroundingFailure(
                    field=where, kind="pr", token=match.group().strip(),
                    reason="no pull request or reference with this number in the evidence",
                )
            )  # fmt: skip
        blank(match)
    for pattern in (_DATE, _TIME, _VERSION):
        for match in list(pattern.finditer(work)):
            checked += 1
            token = match.group()
            if (
                token.lower().lstrip("v") not in allowed.texts
                and token.lower() not in allowed.texts
            ):
                failures.append(
                    GroundingFailure(
                        field=where, kind="number", token=token, reason="not in the evidence"
                    )
                )
            blank(match)
    for match in list(_CONTEXT_ID.finditer(work)):
        token = match.group("id")
        if token.lower() in allowed.ids or token.lower() in allowed.texts or token.isdigit():
            continue  # known, or a bare count ("tickets 3" is checked as a number)
        checked += 1
        what = match.group("what").lower()
        ctx_kind: FailureKind = (
            "session_id" if what.startswith("session") else
            "ticket_id" if what.startswith(("ticket", "request")) else
            "trace_id" if what.startswith("trace") else "error_id"
        )  # fmt: skip
        failures.append(
            GroundingFailure(
                field=where, kind=ctx_kind, token=token, reason="not an id in the evidence"
            )
        )
        start = match.start("id")
        work = work[:start] + " " * len(token) + work[match.end("id") :]
    for match in list(_IDLIKE.finditer(work)):
        token = match.group()
        if token.lower() in allowed.ids or token.lower() in allowed.texts:
            blank(match)
            continue
        if re.fullmatch(r"\d+(?:\.\d+)?(?:x|k|m|ms|s|pp)", token, re.I):
            continue  # a figure with a unit ("2.9x", "1.2s"): checked as a number below
        if re.fullmatch(r"[A-Za-z]{1,3}\d{1,3}|\d+(?:st|nd|rd|th)|p\d{1,3}", token, re.I):
            continue  # "p75", "P1", "2nd": words, not ids; their digits are not figures either
        checked += 1
        failures.append(
            GroundingFailure(
                field=where,
                kind=_kind_from_context(work, match.start(), "id"),
                token=token,
                reason="not an id in the evidence",
            )
        )
        blank(match)
    for match in _NUMBER.finditer(work):
        raw = match.group("num").replace(",", "")
        suffix = (match.group("suffix") or "").strip().lower()
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        written = float(raw)
        if suffix in {"k"}:
            written, decimals = written * 1000, max(decimals - 3, -3)
        elif suffix == "m":
            written, decimals = written * 1_000_000, max(decimals - 6, -6)
        after = work[match.end() : match.end() + 20].lower()
        if suffix in {"%", "pp"} or after.startswith((" percent", " pp")):
            candidates = allowed.percents
        elif suffix in {"x", "×"} or after.startswith(" times"):
            candidates = allowed.ratios
        else:
            candidates = allowed.numbers
        checked += 1
        if not _matches(written, decimals, candidates):
            failures.append(
                GroundingFailure(
                    field=where,
                    kind="number",
                    token=match.group().strip(),
                    reason="no figure in the evidence matches (within rounding)",
                )
            )
    return checked, failures


def draft_fields(draft: TicketDraft) -> list[tuple[str, str]]:
    """The (field, text) pairs of a draft that are checked."""
    fields = [("title", draft.title), ("problem", draft.problem), ("affected", draft.affected)]
    fields += [(f"suggested_scope.{i}", s) for i, s in enumerate(draft.suggested_scope)]
    fields += [(f"acceptance_notes.{i}", s) for i, s in enumerate(draft.acceptance_notes)]
    return fields


def check(draft: TicketDraft, ticket: Ticket) -> GroundingReport:
    """Check a draft's words against a ticket's evidence (the draft need not be applied yet)."""
    allowed = allowed_from(ticket)
    checked = 0
    failures: list[GroundingFailure] = []
    for where, text in draft_fields(draft):
        n, fails = check_text(text, where, allowed)
        checked += n
        failures += fails
    return GroundingReport(passed=not failures, checked=checked, failures=failures)


def draft_of(ticket: Ticket) -> TicketDraft:
    """The words of an existing ticket, as a draft (to re-check after edits or new evidence)."""
    return TicketDraft.model_construct(
        title=ticket.title,
        problem=ticket.problem,
        affected=ticket.affected,
        suggested_scope=ticket.suggested_scope,
        acceptance_notes=ticket.acceptance_notes,
    )


def describe_failures(failures: list[GroundingFailure]) -> str:
    """Failures as lines to send back to a model."""
    return "\n".join(f"- {f.field}: {f.kind} {f.token!r}: {f.reason}" for f in failures)
