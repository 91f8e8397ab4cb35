"""Jira Cloud (REST API v3): ``POST /rest/api/3/issue`` with an ADF description, basic auth
with the account email and an API token; a retry finds the issue by its per-ticket label."""

from __future__ import annotations

import httpx

from errors import ConfigError
from ticketing.config import JiraExport
from ticketing.exporters.http import call
from ticketing.exporters.render import adf
from ticketing.models import ExportRecord, Ticket


def ticket_label(ticket_id: str) -> str:
    """The per-ticket Jira label (labels cannot hold spaces)."""
    return f"andon-{ticket_id.lower()}"


class JiraExporter:
    target = "jira"

    def __init__(self, settings: JiraExport, timeout: float) -> None:
        if not (
            settings.base_url and settings.email and settings.api_token and settings.project_key
        ):
            raise ConfigError(
                "Jira export needs ticketing.jira.base_url, email, api_token and project_key"
            )
        self.settings = settings
        self.base = settings.base_url.rstrip("/")
        self.client = httpx.Client(
            timeout=timeout,
            auth=(settings.email, settings.api_token.get_secret_value()),
            headers={"Accept": "application/json", "User-Agent": "andon"},
        )

    def find(self, ticket: Ticket) -> ExportRecord | None:
        jql = f'project = "{self.settings.project_key}" AND labels = "{ticket_label(ticket.id)}"'
        found = call(self.client, "POST", f"{self.base}/rest/api/3/search/jql", service="Jira",
                     json={"jql": jql, "fields": ["summary"], "maxResults": 1})  # fmt: skip
        issues = found.get("issues") or []
        if not issues:
            return None
        key = issues[0]["key"]
        return ExportRecord(target=self.target, external_id=key, url=f"{self.base}/browse/{key}")

    def create(self, ticket: Ticket) -> ExportRecord:
        labels = [*self.settings.labels, ticket_label(ticket.id), f"andon-{ticket.priority}"]
        fields = {
            "project": {"key": self.settings.project_key},
            "summary": ticket.title[:255],
            "issuetype": {"name": self.settings.issue_type},
            "description": adf(ticket),
            "labels": list(dict.fromkeys(labels)),
        }
        issue = call(self.client, "POST", f"{self.base}/rest/api/3/issue", service="Jira",
                     json={"fields": fields})  # fmt: skip
        key = issue["key"]
        return ExportRecord(target=self.target, external_id=key, url=f"{self.base}/browse/{key}")
