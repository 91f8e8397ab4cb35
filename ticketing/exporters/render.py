"""What an exported ticket says: one structure, rendered as Markdown (files, GitHub, Linear) or
as Atlassian Document Format (Jira). The body carries the problem, the impact, the evidence with
its reproducing SQL, sample trace ids and the acceptance criteria, and a hidden marker
(``andon-ticket: <id>``) by which a retried export finds the issue it already created.
"""

from __future__ import annotations

from typing import Any

from ticketing.figures import flow_phrase, metric_name, metric_value, segment_phrase
from ticketing.models import Ticket


def marker(ticket_id: str) -> str:
    """The text that identifies a ticket's issue in a tracker."""
    return f"andon-ticket: {ticket_id}"


def sections(ticket: Ticket) -> list[tuple[str, list[Any]]]:
    """(heading, blocks) where a block is a str paragraph, a list of bullet strings, or
    ``("code", language, text)``."""
    imp = ticket.impact
    impact_lines = [
        f"{metric_name(imp.metric)}: {metric_value(imp.metric, imp.value)} "
        f"(baseline {metric_value(imp.metric, imp.baseline)})",
        f"affected sessions: {imp.affected_sessions:,}; users: {imp.affected_users:,}",
        f"segment: {segment_phrase(imp.segment)}",
    ]
    if imp.flow or imp.step:
        where = imp.step or "-"
        impact_lines.append(
            f"where: {where} in {flow_phrase(imp.flow)}" if imp.flow else f"where: {where}"
        )
    if imp.lost_conversions:
        impact_lines.append(f"estimated lost conversions: {imp.lost_conversions:,.0f}")
    out: list[tuple[str, list[Any]]] = [
        ("Problem", [ticket.problem]),
        ("Who is affected", [ticket.affected, impact_lines]),
        ("Priority", [f"{ticket.priority} ({ticket.priority_reason})"]),
    ]
    evidence_blocks: list[Any] = []
    for item in ticket.evidence:
        evidence_blocks.append(f"{item.id} ({item.kind}): {item.summary}")
        if item.values:
            evidence_blocks.append([f"{k}: {v}" for k, v in list(item.values.items())[:20]])
        if item.sql:
            evidence_blocks.append(("code", "sql", item.sql))
    out.append(("Evidence", evidence_blocks or ["(none)"]))
    if ticket.sample_trace_ids:
        out.append(("Sample traces", [list(ticket.sample_trace_ids)]))
    if ticket.linked_support_tickets or ticket.linked_error_groups:
        links = [f"support ticket {t}" for t in ticket.linked_support_tickets]
        links += [f"error group {e}" for e in ticket.linked_error_groups]
        out.append(("Linked", [links]))
    out.append(("Suggested scope", [list(ticket.suggested_scope)]))
    criteria = [
        f"{c.description} [metric {c.metric} {c.comparison} {c.threshold:g}"
        + (f", segment {segment_phrase(c.segment)}" if c.segment else "")
        + "]"
        for c in ticket.acceptance_criteria
    ]
    out.append(("Acceptance criteria", [criteria + list(ticket.acceptance_notes)]))
    prov = ticket.provenance
    out.append(
        (
            "Provenance",
            [
                [
                    f"ticket {ticket.id}, clusters {', '.join(ticket.cluster_ids)}",
                    f"run {prov.run_id or '-'}, writer {prov.writer}"
                    + (f" ({prov.model})" if prov.model else "")
                    + f", prompt {prov.prompt_version or '-'}",
                    f"grounding: {'passed' if ticket.grounded else 'FAILED'} "
                    f"({ticket.grounding.checked} figures and ids checked)",
                ]
            ],
        )
    )
    return out


def markdown(ticket: Ticket) -> str:
    """The ticket as Markdown, with the hidden idempotency marker at the end."""
    lines: list[str] = []
    for heading, blocks in sections(ticket):
        lines.append(f"## {heading}")
        lines.append("")
        for block in blocks:
            if isinstance(block, str):
                lines += [block, ""]
            elif isinstance(block, tuple):
                lines += [f"```{block[1]}", block[2].rstrip(), "```", ""]
            else:
                lines += [f"- {b}" for b in block] + [""]
    lines.append(f"<!-- {marker(ticket.id)} -->")
    return "\n".join(lines) + "\n"


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def adf(ticket: Ticket) -> dict[str, Any]:
    """The ticket as an Atlassian Document Format document (Jira Cloud REST v3)."""
    content: list[dict[str, Any]] = []
    for heading, blocks in sections(ticket):
        content.append({"type": "heading", "attrs": {"level": 2}, "content": [_text(heading)]})
        for block in blocks:
            if isinstance(block, str):
                if block:
                    content.append({"type": "paragraph", "content": [_text(block)]})
            elif isinstance(block, tuple):
                content.append(
                    {
                        "type": "codeBlock",
                        "attrs": {"language": block[1]},
                        "content": [_text(block[2])],
                    }
                )
            elif block:
                content.append(
                    {
                        "type": "bulletList",
                        "content": [
                            {
                                "type": "listItem",
                                "content": [{"type": "paragraph", "content": [_text(str(b))]}],
                            }
                            for b in block
                        ],
                    }
                )
    content.append({"type": "paragraph", "content": [_text(marker(ticket.id))]})
    return {"type": "doc", "version": 1, "content": content}
