"""Who writes a brief's words: the offline writer by default, Claude when a key is configured.

A model-written brief is grounded before it is kept: every number, PR number, deployment id,
trace id, version and time it states must be in the incident's evidence. A draft that fails is
sent back once with the failures; if it fails again, the offline text is used and the brief
records why (`Brief.grounding_issues`), so nothing ungrounded is ever filed.
"""

from __future__ import annotations

from datetime import datetime

from llm.agent import AgentBudget
from llm.client import LLMClient, client_from_settings
from rca import claude_writer, offline_writer
from rca.models import Brief, Incident
from settings import Settings


def write_brief(
    incident: Incident, settings: Settings, *, now: datetime, client: LLMClient | None = None
) -> Brief:
    """The brief of the incident's current version (model-written when a client is available)."""
    client = client if client is not None else client_from_settings(settings.llm)
    if client is not None:
        return claude_writer.write(
            client, incident, AgentBudget.from_settings(settings.llm), now=now
        )
    return Brief(
        incident_id=incident.id,
        version=incident.version,
        written_at=now,
        writer=offline_writer.WRITER,
        grounded=True,
        text=offline_writer.write(incident),
    )
