"""Settings of the collectors: Sentry projects, webhooks, Zendesk pulls, ticket privacy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SentryProject(BaseModel):
    """One Sentry project andon accepts events for (the DSN is ``http://KEY@host:4318/ID``)."""

    model_config = ConfigDict(extra="forbid")

    key: SecretStr = Field(description="The DSN's public key, checked on every request.")
    service: str = Field(
        default="",
        description="Service name for this project's errors (default: the event's 'service' tag, "
        "else 'sentry-<project id>').",
    )


class CollectorsSettings(BaseModel):
    """``[collectors]`` in andon.toml, ``ANDON_COLLECTORS__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    sentry_projects: dict[str, SentryProject] = Field(
        default_factory=dict,
        description="Sentry project id -> {key, service}. Without any, the Sentry endpoints "
        "refuse every request.",
    )
    tickets_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for POST /v1/tickets (unset: the ingest token; neither: the "
        "endpoint refuses requests).",
    )
    github_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret of the GitHub webhook; X-Hub-Signature-256 is checked against it.",
    )
    redact_tickets: bool = Field(
        default=True,
        description="Redact personal data and secrets from ticket text before it is stored.",
    )
    email_hash_salt: SecretStr | None = Field(
        default=None,
        description="Salt for the requester email hash kept for joins (unset: no hash is kept).",
    )
    zendesk_url: str = Field(
        default="",
        description="Zendesk base URL, e.g. https://acme.zendesk.com (empty: pulls are disabled).",
    )
    zendesk_email: str = Field(default="", description="Agent email for Zendesk API token auth.")
    zendesk_token: SecretStr | None = Field(default=None, description="Zendesk API token.")
    zendesk_initial_days: int = Field(
        default=30, ge=1, description="How far back the first Zendesk pull starts."
    )
    zendesk_session_field: int | None = Field(
        default=None,
        description="Id of the Zendesk custom ticket field that holds the app's session id.",
    )
    zendesk_max_pages: int = Field(
        default=1000, ge=1, description="Most pages one Zendesk pull fetches before stopping."
    )
    max_body_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        description="Largest Sentry/ticket/GitHub request body, on the wire and decompressed.",
    )
