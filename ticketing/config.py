"""Ticketing settings: the writer, the policy file, the agent's read-only SQL limits, exporters."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# Tables the agent's read-only SQL tool may read (andon's own names; the database is added).
DEFAULT_SQL_TABLES = [
    "otel_traces",
    "otel_logs",
    "andon_errors",
    "andon_support_tickets",
    "andon_clusters",
    "andon_deployments",
    "andon_pull_requests",
]


class GitHubExport(BaseModel):
    """``[ticketing.github]``: GitHub Issues."""

    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(
        default="https://api.github.com",
        description="REST API base URL (GHES: https://host/api/v3).",
    )
    repo: str | None = Field(default=None, description="owner/name the issues are created in.")
    token: SecretStr | None = Field(
        default=None, description="Token with issues:write on the repo."
    )
    labels: list[str] = Field(
        default_factory=lambda: ["andon"], description="Labels added to every issue."
    )


class JiraExport(BaseModel):
    """``[ticketing.jira]``: Jira Cloud (REST API v3, basic auth with an API token)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(default=None, description="e.g. https://your-team.atlassian.net")
    email: str | None = Field(default=None, description="Account email the API token belongs to.")
    api_token: SecretStr | None = Field(default=None, description="Atlassian API token.")
    project_key: str | None = Field(
        default=None, description="Project the issues are created in, e.g. SHOP."
    )
    issue_type: str = Field(default="Task", description="Issue type name.")
    labels: list[str] = Field(
        default_factory=lambda: ["andon"], description="Labels added to every issue."
    )


class LinearExport(BaseModel):
    """``[ticketing.linear]``: Linear (GraphQL API, personal API key)."""

    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(default="https://api.linear.app/graphql", description="GraphQL endpoint.")
    api_key: SecretStr | None = Field(default=None, description="Personal API key.")
    team_id: str | None = Field(
        default=None, description="Team the issues are created in (its id)."
    )
    label_ids: list[str] = Field(
        default_factory=list, description="Label ids added to every issue."
    )


class TicketingSettings(BaseModel):
    """``[ticketing]`` in andon.toml, ``ANDON_TICKETING__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    writer: Literal["auto", "offline", "claude"] = Field(
        default="auto",
        description="auto: Claude when an API key is set, else the offline writer.",
    )
    policy_file: Path | None = Field(
        default=None,
        description="TOML policy: priority rules, re-proposal threshold, autonomy (default: built-in).",
    )
    acceptance_recovery: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of the gap to the baseline a fix must recover (acceptance criteria).",
    )
    max_sample_traces: int = Field(default=10, ge=1, le=100, description="Trace ids per ticket.")
    export_dir: Path = Field(
        default=Path(".andon") / "exports", description="Where the files exporter writes .md/.json."
    )
    default_export_target: Literal["files", "github", "jira", "linear"] = Field(
        default="files", description="Target of `andon tickets export` without --to."
    )
    http_timeout_seconds: float = Field(default=20.0, gt=0, description="Exporter HTTP timeout.")
    sql_timeout_seconds: int = Field(
        default=10, ge=1, le=300, description="max_execution_time of the agent's read-only SQL."
    )
    sql_max_rows: int = Field(
        default=200, ge=1, le=10_000, description="Rows the agent's SQL may return."
    )
    sql_tables: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SQL_TABLES),
        description="Tables the agent's read-only SQL may read.",
    )
    github: GitHubExport = Field(default_factory=GitHubExport)
    jira: JiraExport = Field(default_factory=JiraExport)
    linear: LinearExport = Field(default_factory=LinearExport)
