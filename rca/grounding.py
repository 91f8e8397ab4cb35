"""Grounding of a brief's words: every number, PR number, deployment id, trace id, version, date
and time a brief states must be in the incident's evidence.

The checker is the ticket agent's (`ticketing.grounding.check_text` over an `Allowed` set), so
both agents apply one rule; this module only says what an incident's evidence allows. Pure.
"""

from __future__ import annotations

import math
from typing import Any

from rca import offline_writer
from rca.models import BriefText, Incident
from ticketing.grounding import Allowed, check_text, describe_failures
from ticketing.models import GroundingFailure

__all__ = ["allowed_from", "check", "describe_failures"]

_MAX_TEXT = 300  # long free text (stack traces, gate details) adds its figures, not itself


def _walk(value: Any, allowed: Allowed, key: str = "") -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        allowed.add_number(float(value))
        if key in ("pr_number", "number"):
            allowed.prs.add(str(int(value)))
        return
    if isinstance(value, str):
        if len(value) <= _MAX_TEXT:
            allowed.add_text(value)
            allowed.ids.add(value.lower())
        else:
            allowed.add_text(value[:_MAX_TEXT])
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if len(str(k)) <= 60:
                allowed.add_text(str(k))
            _walk(v, allowed, str(k))
        return
    if isinstance(value, list | tuple):
        allowed.add_number(float(len(value)))
        for v in value:
            _walk(v, allowed, key)


def _pair(allowed: Allowed, value: float, baseline: float) -> None:
    if not all(math.isfinite(x) for x in (value, baseline)):
        return
    allowed.add_number(value - baseline)
    if baseline:
        allowed.percents.add(abs(value - baseline) / abs(baseline) * 100)
        allowed.ratios.add(abs(value / baseline))
    if value:
        allowed.ratios.add(abs(baseline / value))


def allowed_from(incident: Incident) -> Allowed:
    """Everything a brief about this incident may cite (computed by code, never by the model)."""
    allowed = Allowed()
    _walk(incident.model_dump(mode="json"), allowed)
    for moment in [
        incident.onset,
        incident.detected_at,
        *(s.started_at for s in incident.suspects),
    ]:
        if moment is None:
            continue
        for fmt in ("%Y-%m-%d", "%H:%M", "%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"):
            allowed.add_text(moment.strftime(fmt))
    for d in incident.degradations:
        _pair(allowed, d.value, d.baseline)
    if incident.origin:
        _pair(allowed, incident.origin.after, incident.origin.before)
    for s in incident.suspects:
        if s.pr_number:
            allowed.prs.add(str(s.pr_number))
    # The offline writer states the same facts in formatted form (1.2 s, 12.5%): all of them
    # derived from the evidence by code, so a model may state them the same way.
    offline = offline_writer.write(incident)
    for text in [offline.summary, offline.hypothesis, offline.gate_analysis, *offline.next_steps]:
        _walk_text(text, allowed)
    return allowed


def _walk_text(text: str, allowed: Allowed) -> None:
    for sentence in text.replace(";", ".").split(". "):
        allowed.add_text(sentence[:_MAX_TEXT])


def fields(text: BriefText) -> list[tuple[str, str]]:
    """The (field, text) pairs of a brief that are checked."""
    out = [
        ("summary", text.summary),
        ("hypothesis", text.hypothesis),
        ("gate_analysis", text.gate_analysis),
    ]
    out += [(f"next_steps.{i}", step) for i, step in enumerate(text.next_steps)]
    return out


def check(text: BriefText, incident: Incident) -> list[GroundingFailure]:
    """Claims in the brief that the incident's evidence does not support (empty: grounded)."""
    allowed = allowed_from(incident)
    failures: list[GroundingFailure] = []
    for where, words in fields(text):
        failures += check_text(words, where, allowed)[1]
    return failures
