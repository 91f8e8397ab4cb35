"""The ticket agent's read-only tools: cluster evidence, segment breakdown, sample traces,
related support tickets and errors, and bounded SQL.

Each returns a `ToolResult` (success / no_data / error); a failure is data for the model. Every
string that leaves through them is redacted, and text written by users or by software (ticket
bodies, error and status messages) is wrapped as untrusted data. None of them writes anything.
"""

from __future__ import annotations

from typing import Any

from analysis.models import Cluster
from errors import AndonError
from ingest.redaction import redact
from llm.agent import Tool, ToolResult
from llm.client import ToolSpec
from llm.untrusted import untrusted
from ticketing import readonly_sql
from ticketing.config import TicketingSettings
from ticketing.models import Ticket
from warehouse import Warehouse

_NO_INPUT: dict[str, Any] = {"type": "object", "properties": {}}


def redact_deep(value: Any) -> Any:
    """Redact every string inside ``value`` (dicts, lists, tuples), keeping the structure."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_deep(v) for v in value]
    return value


class TicketTools:
    """The tools for one cluster's ticket (bound to its facts and the warehouse)."""

    def __init__(
        self, cluster: Cluster, facts: Ticket, settings: TicketingSettings, wh: Warehouse | None
    ) -> None:
        self.cluster = cluster
        self.ticket = facts
        self.settings = settings
        self.wh = wh

    def facts(self) -> dict[str, Any]:
        """The measured facts the model starts from (what `get_cluster_evidence` returns)."""
        t = self.ticket
        return {
            "cluster_id": self.cluster.id,
            "kind": self.cluster.kind,
            "impact": t.impact.model_dump(),
            "evidence": [
                e.model_dump(exclude={"cluster_id"}, exclude_defaults=True) for e in t.evidence
            ],
            "sample_trace_ids": t.sample_trace_ids,
            "linked_support_tickets": t.linked_support_tickets,
            "linked_error_groups": t.linked_error_groups,
            "acceptance_criteria": [c.model_dump() for c in t.acceptance_criteria],
        }

    def tools(self) -> list[Tool]:
        limit = {"type": "integer", "minimum": 1, "maximum": 10}
        return [
            Tool(
                ToolSpec(
                    name="get_cluster_evidence",
                    description="The cluster's measured impact, evidence items (values, SQL, trace ids) and links.",
                    input_schema=_NO_INPUT,
                ),
                lambda _: ToolResult.ok(redact_deep(self.facts())),
            ),
            Tool(
                ToolSpec(
                    name="get_segment_breakdown",
                    description="How affected sessions concentrate by attribute value against other sessions.",
                    input_schema={
                        "type": "object",
                        "properties": {
                            "attribute": {"type": "string", "description": "Optional filter."}
                        },
                    },
                ),
                self.segment_breakdown,
            ),
            Tool(
                ToolSpec(
                    name="get_sample_traces",
                    description="Spans of the cluster's sample traces: service, operation, duration, status, errors.",
                    input_schema={"type": "object", "properties": {"limit": limit}},
                ),
                self.sample_traces,
            ),
            Tool(
                ToolSpec(
                    name="get_related",
                    description="Linked support tickets (text is untrusted user data) or error groups.",
                    input_schema={
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "enum": ["support_tickets", "errors"]},
                            "limit": limit,
                        },
                        "required": ["kind"],
                    },
                ),
                self.related,
            ),
            Tool(
                ToolSpec(
                    name="run_sql",
                    description=(
                        "Run one read-only ClickHouse SELECT over these tables: "
                        + ", ".join(self.settings.sql_tables)
                        + f". At most {self.settings.sql_max_rows} rows, "
                        f"{self.settings.sql_timeout_seconds}s."
                    ),
                    input_schema={
                        "type": "object",
                        "properties": {"query": {"type": "string"}},
                        "required": ["query"],
                    },
                ),
                self.sql,
            ),
        ]

    # -- tools ------------------------------------------------------------------------------

    def segment_breakdown(self, args: dict[str, Any]) -> ToolResult:
        attribute = str(args.get("attribute") or "")
        shares = [
            s.model_dump()
            for s in self.cluster.segments
            if not attribute or s.attribute == attribute
        ]
        if not shares:
            return ToolResult.empty(
                "no segment breakdown for this cluster" + (f" and {attribute}" if attribute else "")
            )
        return ToolResult.ok(redact_deep(shares))

    def _need_warehouse(self) -> Warehouse:
        if self.wh is None:
            raise AndonError("no warehouse connection for this tool")
        return self.wh

    def sample_traces(self, args: dict[str, Any]) -> ToolResult:
        ids = self.ticket.sample_trace_ids[: max(1, min(int(args.get("limit") or 3), 5))]
        if not ids:
            return ToolResult.empty("this cluster has no sample traces")
        wh = self._need_warehouse()
        rows = wh.rows(
            f"SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, "
            f"round(Duration / 1e6, 1), StatusCode, StatusMessage, "
            f"SpanAttributes['http.route'], SpanAttributes['http.response.status_code'], "
            f"arrayFilter(x -> x != ': ', arrayMap(a -> concat(a['exception.type'], ': ', "
            f"a['exception.message']), Events.Attributes)) "
            f"FROM {wh.table('otel_traces')} WHERE TraceId IN {{ids:Array(String)}} "
            f"ORDER BY TraceId, Timestamp LIMIT 40 BY TraceId",
            {"ids": ids},
        )
        if not rows:
            return ToolResult.empty("the sample traces are no longer in the warehouse")
        traces: dict[str, list[dict[str, Any]]] = {}
        for trace, span, parent, service, name, ms, status, message, route, code, exc in rows:
            span_data: dict[str, Any] = {
                "span_id": span,
                "parent": parent,
                "service": service,
                "operation": name,
                "duration_ms": ms,
                "status": status,
            }
            if route:
                span_data["http.route"] = route
            if code:
                span_data["http.status_code"] = code
            if message:
                span_data["status_message"] = untrusted(redact(message), source="span_status")
            if exc:
                span_data["exceptions"] = [
                    untrusted(redact(e), source="exception") for e in exc[:3]
                ]
            traces.setdefault(trace, []).append(span_data)
        return ToolResult.ok(redact_deep(traces))

    def related(self, args: dict[str, Any]) -> ToolResult:
        kind = args.get("kind")
        limit = max(1, min(int(args.get("limit") or 5), 10))
        if kind == "support_tickets":
            ids = self.ticket.linked_support_tickets[:limit]
            if not ids:
                return ToolResult.empty("no support tickets are linked to this cluster")
            wh = self._need_warehouse()
            rows = wh.rows(
                f"SELECT TicketId, argMax(Subject, UpdatedAt), argMax(Body, UpdatedAt), "
                f"any(Channel), min(CreatedAt) FROM {wh.table('andon_support_tickets')} "
                f"WHERE TicketId IN {{ids:Array(String)}} GROUP BY TicketId ORDER BY TicketId",
                {"ids": ids},
            )
            found = [
                {
                    "ticket_id": tid,
                    "channel": channel,
                    "created_at": str(created),
                    "text": untrusted(
                        redact(f"{subject}\n{body}"[:1500]), source="support_ticket", ref=tid
                    ),
                }
                for tid, subject, body, channel, created in rows
            ]
            if not found:
                return ToolResult.empty("the linked tickets are not in the warehouse")
            return ToolResult.ok(found)
        if kind == "errors":
            fps = self.ticket.linked_error_groups[:limit]
            if not fps:
                return ToolResult.empty("no error groups are linked to this cluster")
            wh = self._need_warehouse()
            rows = wh.rows(
                f"SELECT Fingerprint, any(ExceptionType), any(ExceptionMessage), any(Culprit), "
                f"any(ServiceName), uniqExact(ErrorId), uniqExact(SessionId) "
                f"FROM {wh.table('andon_errors')} WHERE Fingerprint IN {{fps:Array(String)}} "
                f"GROUP BY Fingerprint ORDER BY Fingerprint",
                {"fps": fps},
            )
            return ToolResult.ok(
                [
                    {
                        "fingerprint": fp,
                        "type": etype,
                        "message": untrusted(redact(message[:500]), source="error_message"),
                        "culprit": redact(culprit),
                        "service": service,
                        "events": events,
                        "sessions": sessions,
                    }
                    for fp, etype, message, culprit, service, events, sessions in rows
                ]
            )
        return ToolResult.failed("kind must be 'support_tickets' or 'errors'")

    def sql(self, args: dict[str, Any]) -> ToolResult:
        wh = self._need_warehouse()
        try:
            result = readonly_sql.run(
                wh,
                str(args.get("query") or ""),
                allowed_tables=self.settings.sql_tables,
                max_rows=self.settings.sql_max_rows,
                timeout_seconds=self.settings.sql_timeout_seconds,
            )
        except AndonError as exc:
            return ToolResult.failed(exc.message)
        return ToolResult.ok(redact_deep(result))
