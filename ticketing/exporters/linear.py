"""Linear (GraphQL API): ``issueCreate`` with a Markdown description, personal API key in the
``Authorization`` header; a retry finds the issue by the marker in its description."""

from __future__ import annotations

from typing import Any

import httpx

from errors import ConfigError
from ticketing.config import LinearExport
from ticketing.exporters import ExportError
from ticketing.exporters.http import call
from ticketing.exporters.render import markdown, marker
from ticketing.models import ExportRecord, Ticket

# Linear priorities: 1 urgent, 2 high, 3 medium, 4 low.
PRIORITY = {"P0": 1, "P1": 2, "P2": 3, "P3": 4}

FIND = """query AndonFind($marker: String!) {
  issues(filter: {description: {contains: $marker}}, first: 1) { nodes { id identifier url } }
}"""
CREATE = """mutation AndonCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}"""


class LinearExporter:
    target = "linear"

    def __init__(self, settings: LinearExport, timeout: float) -> None:
        if settings.api_key is None or not settings.team_id:
            raise ConfigError("Linear export needs ticketing.linear.api_key and team_id")
        self.settings = settings
        self.client = httpx.Client(
            timeout=timeout,
            headers={
                "Authorization": settings.api_key.get_secret_value(),
                "Content-Type": "application/json",
                "User-Agent": "andon",
            },
        )

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = call(self.client, "POST", self.settings.api_url, service="Linear",
                    json={"query": query, "variables": variables})  # fmt: skip
        if body.get("errors"):
            raise ExportError(
                f"Linear answered with errors: {body['errors'][0].get('message', body['errors'][0])}"
            )
        return dict(body.get("data") or {})

    def find(self, ticket: Ticket) -> ExportRecord | None:
        nodes = self._graphql(FIND, {"marker": marker(ticket.id)})["issues"]["nodes"]
        if not nodes:
            return None
        return ExportRecord(
            target=self.target, external_id=nodes[0]["identifier"], url=nodes[0].get("url", "")
        )

    def create(self, ticket: Ticket) -> ExportRecord:
        payload: dict[str, Any] = {
            "teamId": self.settings.team_id,
            "title": ticket.title,
            "description": markdown(ticket),
            "priority": PRIORITY[ticket.priority],
        }
        if self.settings.label_ids:
            payload["labelIds"] = self.settings.label_ids
        result = self._graphql(CREATE, {"input": payload})["issueCreate"]
        if not result.get("success") or not result.get("issue"):
            raise ExportError("Linear did not create the issue (success: false)")
        issue = result["issue"]
        return ExportRecord(
            target=self.target, external_id=issue["identifier"], url=issue.get("url", "")
        )
