"""GitHub Issues (REST API): ``POST /repos/{owner}/{repo}/issues``, bearer token."""

from __future__ import annotations

import httpx

from errors import ConfigError
from ticketing.config import GitHubExport
from ticketing.exporters.http import call
from ticketing.exporters.render import markdown, marker
from ticketing.models import ExportRecord, Ticket

MAX_PAGES = 10  # issues scanned for the marker: 1,000 labelled issues


class GitHubExporter:
    target = "github"

    def __init__(self, settings: GitHubExport, timeout: float) -> None:
        if not settings.repo or settings.token is None:
            raise ConfigError(
                "GitHub export needs ticketing.github.repo and ticketing.github.token"
            )
        self.settings = settings
        self.base = f"{settings.api_url.rstrip('/')}/repos/{settings.repo}"
        self.client = httpx.Client(
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {settings.token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "andon",
            },
        )

    def find(self, ticket: Ticket) -> ExportRecord | None:
        """An issue (open or closed) whose body carries this ticket's marker."""
        needle = marker(ticket.id)
        params: dict[str, str | int] = {"state": "all", "per_page": 100}
        if self.settings.labels:
            params["labels"] = self.settings.labels[0]
        for page in range(1, MAX_PAGES + 1):
            issues = call(self.client, "GET", f"{self.base}/issues", service="GitHub",
                          params={**params, "page": page})  # fmt: skip
            for issue in issues:
                if "pull_request" not in issue and needle in (issue.get("body") or ""):
                    return ExportRecord(target=self.target, external_id=str(issue["number"]),
                                        url=issue.get("html_url", ""))  # fmt: skip
            if len(issues) < 100:
                return None
        return None

    def create(self, ticket: Ticket) -> ExportRecord:
        labels = [*self.settings.labels, ticket.priority, ticket.kind]
        issue = call(
            self.client,
            "POST",
            f"{self.base}/issues",
            service="GitHub",
            json={
                "title": ticket.title,
                "body": markdown(ticket),
                "labels": list(dict.fromkeys(labels)),
            },
        )
        return ExportRecord(
            target=self.target, external_id=str(issue["number"]), url=issue.get("html_url", "")
        )
