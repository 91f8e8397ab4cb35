"""The model-written brief: Claude (through the shared `llm` module) writes the words from the
evidence code gathered; the words are grounded before they are kept.

- The evidence is the incident as computed (redacted, delimited as untrusted data); the model
  gets no tool that reads or writes anything else: it answers through one ``submit_brief`` call.
- A draft that cites anything the evidence lacks is sent back once with the failures (the
  agent loop's invalid-final round); a second failure, a protocol error or an API error falls
  back to the offline text, and the brief records why (`Brief.grounding_issues`).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from pydantic import ValidationError

from ingest.redaction import redact
from llm.agent import AgentBudget, FinalInvalid, FinalTool, run_tool_loop
from llm.client import LLMClient, LLMError, ToolSpec
from llm.untrusted import UNTRUSTED_RULES, untrusted_json
from rca import grounding, offline_writer
from rca.models import Brief, BriefText, Incident

SUBMIT = ToolSpec(
    name="submit_brief",
    description="Submit the incident brief's words. Every figure and id must come from the evidence.",
    input_schema={
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "What degraded, since when, for whom."},
            "hypothesis": {
                "type": "string",
                "description": "Where it originates and which deployment most likely caused it, and why.",
            },
            "gate_analysis": {
                "type": "string",
                "description": "What the gates measured vs production, and what they did not cover.",
            },
            "next_steps": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        },
        "required": ["summary", "hypothesis", "gate_analysis", "next_steps"],
    },
)


@cache
def _template(name: str) -> jinja2.Template:
    text = (resources.files("rca") / "prompts" / name).read_text(encoding="utf-8")
    return jinja2.Template(text, undefined=jinja2.StrictUndefined, autoescape=False)


def _redact_deep(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_deep(v) for v in value]
    return value


def evidence(incident: Incident) -> dict[str, Any]:
    """What the model sees: the incident without the chart series (numbers it need not cite)."""
    data = incident.model_dump(mode="json", exclude={"series"})
    data["suspects"] = data["suspects"][:5]
    return _redact_deep(data)


def write(client: LLMClient, incident: Incident, budget: AgentBudget, *, now: datetime) -> Brief:
    """A grounded model-written brief, or the offline one with the reason it was not used."""
    offline = offline_writer.write(incident)

    def validate(data: dict[str, Any]) -> BriefText:
        try:
            text = BriefText.model_validate(data)
        except ValidationError as exc:
            raise FinalInvalid(f"invalid brief: {exc.errors()[0]['msg']}") from exc
        failures = grounding.check(text, incident)
        if failures:
            raise FinalInvalid(
                "These claims are not in the evidence; correct or remove them and submit again:\n"
                + grounding.describe_failures(failures)
            )
        return text

    system = _template("brief_system.md.j2").render(untrusted_rules=UNTRUSTED_RULES)
    prompt = _template("brief_task.md.j2").render(
        incident_id=incident.id,
        evidence=untrusted_json(evidence(incident), source="andon_incident_evidence"),
        offline=json.dumps(offline.model_dump(), indent=1, ensure_ascii=False),
    )
    try:
        result = run_tool_loop(
            client,
            system=system,
            prompt=prompt,
            tools=[],
            final=FinalTool(SUBMIT, validate),
            budget=budget,
        )
    except LLMError as exc:
        return Brief(
            incident_id=incident.id,
            version=incident.version,
            written_at=now,
            writer=offline_writer.WRITER,
            grounded=True,
            grounding_issues=[f"model brief rejected, offline text used: {exc.message[:400]}"],
            text=offline,
        )
    return Brief(
        incident_id=incident.id,
        version=incident.version,
        written_at=now,
        writer=f"claude:{result.model}",
        grounded=True,
        text=result.output,
    )
