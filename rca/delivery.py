"""Delivery of briefs to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...).

The payload is ``{"text": ..., "blocks": [...]}``: ``text`` is the fallback every compatible
service shows; ``blocks`` add structure where supported. Delivery never raises: a failure is
returned as data and reported by the caller, the brief is stored either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from rca.models import Brief, Incident

TIMEOUT_SECONDS = 10.0


@dataclass
class DeliveryResult:
    ok: bool
    status: int | None = None
    error: str = ""


def slack_payload(incident: Incident, brief: Brief, console_url: str = "") -> dict[str, Any]:
    """The webhook body for one brief."""
    top = incident.suspects[0] if incident.suspects else None
    suspect = (
        f"{top.deployment_id} ({top.service} {top.version}"
        + (f", PR #{top.pr_number}" if top.pr_number else "")
        + f", score {top.score:.2f})"
        if top
        else "no deployment in the lookback window"
    )
    link = f"{console_url.rstrip('/')}/incidents/{incident.id}" if console_url else ""
    header = f":rotating_light: [{incident.severity}] {incident.title or incident.id}"
    text = f"{header}\n{brief.text.summary}\nMost likely: {suspect}" + (f"\n{link}" if link else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": brief.text.summary[:2900]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Hypothesis*: {brief.text.hypothesis}"[:2900]},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Most likely*: {suspect}"}},
    ]
    if brief.text.gate_analysis:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Gates*: {brief.text.gate_analysis}"[:2900]},
            }
        )
    if link:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{link}|Open the brief>"}],
            }
        )
    return {"text": text, "blocks": blocks}


def post_slack(url: str, incident: Incident, brief: Brief, console_url: str = "") -> DeliveryResult:
    """POST the brief to the webhook; the result says whether it was accepted."""
    try:
        response = httpx.post(
            url, json=slack_payload(incident, brief, console_url), timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        return DeliveryResult(ok=False, error=f"cannot reach the webhook: {type(exc).__name__}")
    if response.status_code >= 300:
        return DeliveryResult(
            ok=False,
            status=response.status_code,
            error=f"webhook answered {response.status_code}: {response.text[:200]}",
        )
    return DeliveryResult(ok=True, status=response.status_code)
