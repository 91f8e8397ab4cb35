"""A capped tool-use loop: the model investigates with read-only tools, then answers through one
final, structured tool call that is validated before it is accepted.

Shape (shared by the ticket agent and the RCA agent)::

    result = run_tool_loop(
        client,
        system=system_prompt,
        prompt=user_prompt,
        tools=[Tool(spec, handler), ...],          # read-only investigation tools
        final=FinalTool(spec, validate),          # e.g. submit_ticket -> TicketDraft
        budget=AgentBudget.from_settings(settings.llm),
    )
    result.output    # what ``validate`` returned for the accepted final call

Rules the loop enforces:

- a tool's failure goes back to the model as data (``is_error`` tool result), never raises;
- a final call whose input does not validate is sent back with the validation errors, at most
  ``max_invalid_final`` times, then `LLMProtocolError`;
- at most ``max_steps`` model calls (the last one is forced to the final tool) and at most
  ``max_total_tokens`` input + output tokens, else `LLMBudgetExceeded`;
- tool results are truncated to ``max_tool_result_chars`` so one tool cannot flood the context.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from llm.client import (
    LLMBudgetExceeded,
    LLMClient,
    LLMProtocolError,
    ToolSpec,
)
from llm.config import LLMSettings

T = TypeVar("T")


class ToolResult(BaseModel):
    """What a tool hands back to the model: success with data, no data, or an error message."""

    status: Literal["success", "no_data", "error"]
    data: Any = None
    error: str | None = None

    @classmethod
    def ok(cls, data: Any) -> ToolResult:
        return cls(status="success", data=data)

    @classmethod
    def empty(cls, why: str) -> ToolResult:
        return cls(status="no_data", error=why)

    @classmethod
    def failed(cls, why: str) -> ToolResult:
        return cls(status="error", error=why)


@dataclass
class Tool:
    """A read-only tool: its spec for the model and the function that runs it."""

    spec: ToolSpec
    run: Callable[[dict[str, Any]], ToolResult]


class FinalInvalid(Exception):
    """Raised by a `FinalTool.validate` function: the message goes back to the model."""


@dataclass
class FinalTool(Generic[T]):
    """The tool the model answers with; ``validate`` turns its input into the result or raises
    `FinalInvalid` (or pydantic's ValidationError) with what is wrong."""

    spec: ToolSpec
    validate: Callable[[dict[str, Any]], T]


@dataclass(frozen=True)
class AgentBudget:
    """Limits of one agent run."""

    max_steps: int = 8
    max_total_tokens: int = 120_000
    max_tokens_per_call: int = 4096
    max_invalid_final: int = 1
    max_tool_result_chars: int = 20_000

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> AgentBudget:
        return cls(
            max_steps=settings.max_steps,
            max_total_tokens=settings.max_total_tokens,
            max_tokens_per_call=settings.max_tokens,
        )


@dataclass
class ToolLogEntry:
    """One tool call the model made, for provenance and tests."""

    name: str
    input: dict[str, Any]
    status: str


@dataclass
class AgentResult(Generic[T]):
    """The accepted final output and what it cost."""

    output: T
    steps: int
    input_tokens: int
    output_tokens: int
    model: str
    tool_log: list[ToolLogEntry] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


def _tool_result_block(tool_use_id: str, result: ToolResult, limit: int) -> dict[str, Any]:
    text = json.dumps(result.model_dump(exclude_none=True), default=str, ensure_ascii=False)
    if len(text) > limit:
        text = text[:limit] + ' ... [truncated: ask for less, e.g. a smaller "limit"]'
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": text}
    if result.status == "error":
        block["is_error"] = True
    return block


def _validation_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            parts = [
                f"{'.'.join(str(p) for p in e.get('loc', ())) or '(root)'}: {e.get('msg')}"
                for e in errors()
            ]
            return "; ".join(parts)[:4000]
        except Exception:  # not pydantic's shape after all: use the plain message
            pass
    return str(exc)[:4000]


def run_tool_loop(
    client: LLMClient,
    *,
    system: str,
    prompt: str,
    tools: list[Tool],
    final: FinalTool[T],
    budget: AgentBudget,
    on_step: Callable[[int, list[dict[str, Any]]], None] | None = None,
) -> AgentResult[T]:
    """Run the model with ``tools`` until it answers through ``final`` (see module docstring).

    Raises `LLMError` subclasses: `LLMBudgetExceeded`, `LLMProtocolError`, or whatever the
    client raises for API failures.
    """
    by_name = {t.spec.name: t for t in tools}
    specs = [t.spec for t in tools] + [final.spec]
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": prompt}]}
    ]
    tokens_in = tokens_out = 0
    invalid_finals = 0
    log: list[ToolLogEntry] = []
    model = client.model
    for step in range(1, budget.max_steps + 1):
        last = step == budget.max_steps
        choice = {"type": "tool", "name": final.spec.name} if last else {"type": "auto"}
        response = client.create(
            system=system,
            messages=messages,
            tools=specs,
            tool_choice=choice,
            max_tokens=budget.max_tokens_per_call,
        )
        model = response.model or model
        tokens_in += response.input_tokens
        tokens_out += response.output_tokens
        messages.append({"role": "assistant", "content": response.content})
        if on_step is not None:
            on_step(step, messages)
        if tokens_in + tokens_out > budget.max_total_tokens:
            raise LLMBudgetExceeded(
                f"agent stopped: {tokens_in + tokens_out} tokens used, budget "
                f"{budget.max_total_tokens}"
            )
        if not response.tool_calls:
            if response.stop_reason == "max_tokens":
                raise LLMProtocolError("the model ran out of output tokens before answering")
            messages.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": f"Answer only by calling the `{final.spec.name}` tool.",
                        }
                    ],
                }
            )
            continue
        results: list[dict[str, Any]] = []
        for call in response.tool_calls:
            if call.name == final.spec.name:
                try:
                    output = final.validate(call.input)
                except Exception as exc:  # pydantic ValidationError, FinalInvalid, ValueError
                    invalid_finals += 1
                    log.append(ToolLogEntry(call.name, call.input, "invalid"))
                    if invalid_finals > budget.max_invalid_final:
                        raise LLMProtocolError(
                            f"the model's {final.spec.name} call was invalid "
                            f"{invalid_finals} times: {_validation_message(exc)}"
                        ) from exc
                    results.append(
                        _tool_result_block(
                            call.id,
                            ToolResult.failed(
                                f"invalid {final.spec.name} input: {_validation_message(exc)}. "
                                "Fix these fields and call the tool again."
                            ),
                            budget.max_tool_result_chars,
                        )
                    )
                    continue
                log.append(ToolLogEntry(call.name, call.input, "accepted"))
                return AgentResult(
                    output=output,
                    steps=step,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                    model=model,
                    tool_log=log,
                    messages=messages,
                )
            tool = by_name.get(call.name)
            if tool is None:
                result = ToolResult.failed(
                    f"unknown tool {call.name!r}; available: {', '.join(sorted(by_name))}"
                )
            else:
                try:
                    result = tool.run(call.input)
                except Exception as exc:  # a tool failure is data for the model, not a crash
                    result = ToolResult.failed(f"{type(exc).__name__}: {exc}"[:2000])
            log.append(ToolLogEntry(call.name, call.input, result.status))
            results.append(_tool_result_block(call.id, result, budget.max_tool_result_chars))
        messages.append({"role": "user", "content": results})
    raise LLMBudgetExceeded(
        f"agent stopped after {budget.max_steps} steps without a valid {final.spec.name} call"
    )
