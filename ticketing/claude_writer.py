"""The Claude writer: the model investigates a cluster with read-only tools and returns the
ticket's words through a structured tool call (``submit_ticket``, validated as `TicketDraft`).

- Everything sent to the model is redacted (`ingest.redaction.redact`) and telemetry or
  support text is delimited as untrusted data (`llm.untrusted`).
- A draft whose schema is wrong, or that fails the grounding check, is sent back once with the
  problems; a second grounding failure, an API error, a timeout or an exhausted budget falls back
  to the offline writer, and the ticket's provenance says why.
- Priority, status and routing are never the model's: the writer returns words only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from analysis.models import Cluster
from llm.agent import AgentBudget, FinalInvalid, FinalTool, run_tool_loop
from llm.client import LLMClient, LLMError, ToolSpec
from llm.config import LLMSettings
from llm.untrusted import UNTRUSTED_RULES, untrusted_json
from ticketing import grounding
from ticketing.agent_tools import TicketTools, redact_deep
from ticketing.config import TicketingSettings
from ticketing.drafting import OfflineWriter, Writer, Written
from ticketing.models import GroundingFailure, GroundingReport, Provenance, Ticket, TicketDraft
from warehouse import Warehouse

FINAL_TOOL = "submit_ticket"
PROMPT_FILES = ("ticket_system.md.j2", "ticket_task.md.j2")


@cache
def _templates() -> dict[str, str]:
    folder = resources.files("ticketing") / "prompts"
    return {name: (folder / name).read_text(encoding="utf-8") for name in PROMPT_FILES}


def prompt_version() -> str:
    """'ticket-v1+<hash of the template files>': which prompt wrote a ticket."""
    digest = hashlib.sha256("".join(_templates().values()).encode()).hexdigest()[:8]
    return f"ticket-v1+{digest}"


def _render(name: str, **values: Any) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(_templates()[name]).render(**values)


def _submit_spec() -> ToolSpec:
    schema = TicketDraft.model_json_schema()
    return ToolSpec(
        name=FINAL_TOOL,
        description="Submit the ticket's words. Figures and ids must come from the evidence.",
        input_schema=schema,
    )


class ClaudeWriter(Writer):
    """`Writer` backed by an `LLMClient` (the Anthropic implementation in production)."""

    def __init__(
        self,
        client: LLMClient,
        llm: LLMSettings,
        settings: TicketingSettings,
        wh: Warehouse | None,
    ) -> None:
        self.client = client
        self.llm = llm
        self.settings = settings
        self.wh = wh
        self.offline = OfflineWriter()

    def _fallback(
        self,
        cluster: Cluster,
        facts: Ticket,
        *,
        run_id: str,
        now: datetime,
        reason: str,
        history: list[list[GroundingFailure]],
        usage: dict[str, Any],
    ) -> Written:
        written = self.offline.write(cluster, facts, run_id=run_id, now=now, reason=reason)
        written.provenance = written.provenance.model_copy(
            update={"model": self.client.model, **usage}
        )
        written.grounding = written.grounding.model_copy(
            update={"attempts": len(history) + 1, "history": history}
        )
        return written

    def write(self, cluster: Cluster, facts: Ticket, *, run_id: str, now: datetime) -> Written:
        tools = TicketTools(cluster, facts, self.settings, self.wh)
        reports: list[GroundingReport] = []

        def validate(data: dict[str, Any]) -> tuple[TicketDraft, GroundingReport]:
            draft = TicketDraft.model_validate(data)  # a malformed call goes back to the model
            report = grounding.check(draft, facts)
            reports.append(report)
            if not report.passed and len(reports) == 1:
                raise FinalInvalid(
                    "the grounding check failed; every figure and id must come from the "
                    "evidence. Fix or remove these and submit again:\n"
                    + grounding.describe_failures(report.failures)
                )
            return draft, report

        criterion = facts.acceptance_criteria[0] if facts.acceptance_criteria else None
        system = _render(
            "ticket_system.md.j2", untrusted_rules=UNTRUSTED_RULES, final_tool=FINAL_TOOL
        )
        prompt = _render(
            "ticket_task.md.j2",
            cluster_id=cluster.id,
            kind=cluster.kind,
            facts=untrusted_json(redact_deep(tools.facts()), source="andon_measurements"),
            criterion=(
                f"{criterion.metric} {criterion.comparison} {criterion.threshold:g}"
                if criterion
                else "none"
            ),
            tools=", ".join(t.spec.name for t in tools.tools()),
            final_tool=FINAL_TOOL,
        )
        budget = AgentBudget.from_settings(self.llm)
        budget = AgentBudget(
            max_steps=budget.max_steps,
            max_total_tokens=budget.max_total_tokens,
            max_tokens_per_call=budget.max_tokens_per_call,
            max_invalid_final=2,  # one malformed call and one grounding send-back at most
        )
        try:
            result = run_tool_loop(
                self.client,
                system=system,
                prompt=prompt,
                tools=tools.tools(),
                final=FinalTool(_submit_spec(), validate),
                budget=budget,
            )
        except LLMError as exc:
            history = [r.failures for r in reports if not r.passed]
            return self._fallback(
                cluster, facts, run_id=run_id, now=now,
                reason=f"Claude writer failed ({type(exc).__name__}): {exc.message}"[:500],
                history=history, usage={},
            )  # fmt: skip
        draft, report = result.output
        usage: dict[str, Any] = {
            "steps": result.steps,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "tool_calls": [e.name for e in result.tool_log],
        }
        history = [r.failures for r in reports[:-1] if not r.passed]
        if not report.passed:
            return self._fallback(
                cluster, facts, run_id=run_id, now=now,
                reason="the model's draft failed the grounding check twice: "
                + "; ".join(f"{f.kind} {f.token!r}" for f in report.failures[:5]),
                history=[*history, report.failures], usage=usage,
            )  # fmt: skip
        return Written(
            draft=draft,
            provenance=Provenance(
                run_id=run_id,
                writer="claude",
                model=result.model,
                prompt_version=prompt_version(),
                drafted_at=now,
                **usage,
            ),
            grounding=report.model_copy(update={"attempts": len(reports), "history": history}),
        )


__all__ = ["ClaudeWriter", "prompt_version"]
