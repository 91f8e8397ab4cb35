"""`LLMClient`: the one small interface andon's agents use to call a model.

Messages and content blocks are plain dicts in the Messages API shape (``{"role": "user",
"content": [{"type": "text", "text": ...}]}``), so agents never see SDK types. `AnthropicClient`
is the only implementation that talks to a real API; anything else (a test double, another
vendor) implements `LLMClient.create`.

Errors are translated once, here: every failure of a call is an `LLMError` subclass, so callers
(the ticket writer, the RCA agent) can fall back to their offline writers and say why.

    LLMError                 (errors.AndonError)
    ├── LLMUnavailable       connection failure or timeout
    ├── LLMAPIError          the API answered with an error status (status, type)
    ├── LLMBudgetExceeded    an agent run hit its step or token budget
    └── LLMProtocolError     the model did not produce what the protocol requires
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, Field

from errors import AndonError
from llm.config import LLMSettings


class LLMError(AndonError):
    """A model call or agent run failed; the caller decides whether to fall back."""

    http_status = 502


class LLMUnavailable(LLMError):
    """The API could not be reached, or did not answer in time."""


class LLMAPIError(LLMError):
    """The API answered with an error status."""

    def __init__(self, message: str, *, status: int | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class LLMBudgetExceeded(LLMError):
    """An agent run used up its step or token budget before finishing."""


class LLMProtocolError(LLMError):
    """The model's answer broke the protocol (e.g. no final tool call, invalid tool input)."""


class ToolSpec(BaseModel):
    """A tool the model may call: a name, what it does, and a JSON Schema of its input."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str
    input_schema: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


@dataclass(frozen=True)
class ToolCall:
    """One ``tool_use`` block of a response."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass
class LLMResponse:
    """One model response, as plain data."""

    content: list[dict[str, Any]]
    stop_reason: str | None
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The concatenated text blocks."""
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text")


class LLMClient(Protocol):
    """What agents need from a model: one call of the Messages API, with tools.

    ``tool_choice`` is the API's (``{"type": "auto"}``, ``{"type": "any"}``,
    ``{"type": "tool", "name": ...}``). Raises `LLMError` on any failure.
    """

    model: str

    def create(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[ToolSpec] | None = None,
        tool_choice: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> LLMResponse: ...


class AnthropicClient:
    """`LLMClient` over the Anthropic Python SDK (the only code that imports ``anthropic``)."""

    def __init__(self, settings: LLMSettings) -> None:
        import anthropic

        if not settings.enabled or settings.api_key is None:
            raise LLMError("no Anthropic API key configured (set ANTHROPIC_API_KEY)")
        self.settings = settings
        self.model = settings.model
        # The key and URL are always passed explicitly so the SDK never falls back to reading
        # environment variables or profile files on its own: settings.py is the one source.
        self._sdk = anthropic.Anthropic(
            api_key=settings.api_key.get_secret_value(),
            base_url=settings.base_url or "https://api.anthropic.com",
            timeout=settings.timeout_seconds,
            max_retries=settings.max_retries,
        )

    def create(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[ToolSpec] | None = None,
        tool_choice: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> LLMResponse:
        """Call the Messages API once; translate every SDK failure into an `LLMError`."""
        import anthropic

        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens or self.settings.max_tokens,
            "system": system,
            "messages": messages,
        }
        if tools:
            kwargs["tools"] = [t.to_api() for t in tools]
        if tool_choice:
            kwargs["tool_choice"] = tool_choice
        try:
            message = self._sdk.messages.create(**kwargs)
        except anthropic.APITimeoutError as exc:
            raise LLMUnavailable(
                f"the model API did not answer within {self.settings.timeout_seconds:g}s"
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise LLMUnavailable(f"cannot reach the model API: {exc}") from exc
        except anthropic.APIStatusError as exc:
            kind = _error_type(exc.body)
            raise LLMAPIError(
                f"model API error {exc.status_code}{f' ({kind})' if kind else ''}: "
                f"{_error_message(exc.body) or exc.message}",
                status=exc.status_code,
                kind=kind,
            ) from exc
        except anthropic.AnthropicError as exc:  # response validation and the like
            raise LLMError(f"model API call failed: {exc}") from exc
        content = [block.model_dump(mode="json", exclude_none=True) for block in message.content]
        calls = [
            ToolCall(id=b["id"], name=b["name"], input=dict(b.get("input") or {}))
            for b in content
            if b.get("type") == "tool_use"
        ]
        return LLMResponse(
            content=content,
            stop_reason=message.stop_reason,
            model=message.model,
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            tool_calls=calls,
        )


def _error_type(body: object) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("type", ""))
    return ""


def _error_message(body: object) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message", ""))[:300]
    return ""


def client_from_settings(settings: LLMSettings) -> LLMClient | None:
    """The configured client, or None when no key is set (callers then run offline)."""
    return AnthropicClient(settings) if settings.enabled else None
