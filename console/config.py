"""Console settings: who may sign in, which API tokens machines use, how sessions are signed."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class ConsoleUser(BaseModel):
    """A reviewer who signs in to the console; approvals are recorded under ``name``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Sign-in name, recorded with every approval, e.g. 'maria'.")
    password_hash: SecretStr = Field(
        description="scrypt hash printed by `andon console hash-password` (never the password)."
    )
    display_name: str = Field(default="", description="Shown in the console, e.g. 'Maria (PM)'.")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use 1-64 letters, digits, '_', '.', '@' or '-'")
        return value


class ApiToken(BaseModel):
    """A bearer token for machine clients of the JSON API (stored as its SHA-256)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Who uses it, recorded as the actor 'api:<name>', e.g. 'ci'.")
    sha256: SecretStr = Field(
        description="SHA-256 (hex) of the token, printed by `andon console new-token`."
    )

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use 1-64 letters, digits, '_', '.', '@' or '-'")
        return value


class ConsoleSettings(BaseModel):
    """``[console]`` in andon.toml, ``ANDON_CONSOLE__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    users: list[ConsoleUser] = Field(
        default_factory=list,
        description="Reviewers allowed to sign in ([[console.users]] name, password_hash).",
    )
    api_tokens: list[ApiToken] = Field(
        default_factory=list,
        description="Bearer tokens for the JSON API ([[console.api_tokens]] name, sha256).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs session cookies. Unset: a random key per process (everyone signs in "
        "again after a restart).",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="How long a sign-in lasts."
    )
    secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (behind a TLS proxy)."
    )
    page_size: int = Field(default=50, ge=5, le=500, description="Rows per page in lists.")
