"""LLM settings: which model andon's agents call, where, and within which budgets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class LLMSettings(BaseModel):
    """``[llm]`` in andon.toml, ``ANDON_LLM__*`` in the environment.

    ``api_key`` is also filled from ``ANTHROPIC_API_KEY`` (by `settings.load_settings`) when it
    is not set otherwise. Without a key the agents use their deterministic offline writers.
    """

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = Field(
        default=None,
        description="Anthropic API key; when unset, ANTHROPIC_API_KEY; without one, agents run offline.",
    )
    base_url: str | None = Field(
        default=None,
        description="Messages API base URL (default: Anthropic's); tests point it at a local stand-in.",
    )
    model: str = Field(default="claude-sonnet-5-5", description="Model name sent to the API.")
    max_tokens: int = Field(
        default=4096, ge=256, le=64_000, description="Largest response per model call."
    )
    max_steps: int = Field(
        default=8, ge=1, le=50, description="Model calls one agent run may make (tool rounds)."
    )
    max_total_tokens: int = Field(
        default=120_000,
        ge=1_000,
        description="Input + output tokens one agent run may spend before it is stopped.",
    )
    timeout_seconds: float = Field(
        default=60.0, gt=0, le=600, description="Timeout of one model call (connect + read)."
    )
    max_retries: int = Field(
        default=2, ge=0, le=10, description="SDK retries on 429/5xx/connection errors per call."
    )

    @property
    def enabled(self) -> bool:
        """Whether a key is configured, i.e. whether agents may call the model."""
        return self.api_key is not None and bool(self.api_key.get_secret_value())
