"""Exporters: approved tickets to Markdown/JSON files (the default), GitHub Issues, Jira Cloud
and Linear, through their real APIs.

Each exporter has two calls: ``find(ticket)`` looks for an issue it created before (by the
``andon-ticket: <id>`` marker), ``create(ticket)`` creates one; `ticketing.service.export` calls
``find`` before ``create``, so a retried export never files a second issue. Failures are
translated once, here: `AuthError` for rejected credentials, `ConfigError` for missing settings,
`ExportError` for anything else the tracker answers.
"""

from __future__ import annotations

from typing import Literal, Protocol

from errors import AndonError, ConfigError
from ticketing.config import TicketingSettings
from ticketing.models import ExportRecord, Ticket

ExportTarget = Literal["files", "github", "jira", "linear"]
TARGETS: tuple[str, ...] = ("files", "github", "jira", "linear")


class ExportError(AndonError):
    """The tracker refused or failed an export."""

    http_status = 502


class Exporter(Protocol):
    """Creates (or finds) the tracker issue of a ticket."""

    target: str

    def find(self, ticket: Ticket) -> ExportRecord | None: ...

    def create(self, ticket: Ticket) -> ExportRecord: ...


def exporter_for(target: str, settings: TicketingSettings) -> Exporter:
    """The exporter for ``target`` built from settings (`ConfigError` if settings are missing)."""
    if target == "files":
        from ticketing.exporters.files import FilesExporter

        return FilesExporter(settings.export_dir)
    if target == "github":
        from ticketing.exporters.github import GitHubExporter

        return GitHubExporter(settings.github, settings.http_timeout_seconds)
    if target == "jira":
        from ticketing.exporters.jira import JiraExporter

        return JiraExporter(settings.jira, settings.http_timeout_seconds)
    if target == "linear":
        from ticketing.exporters.linear import LinearExporter

        return LinearExporter(settings.linear, settings.http_timeout_seconds)
    raise ConfigError(f"unknown export target {target!r} (one of {', '.join(TARGETS)})")
