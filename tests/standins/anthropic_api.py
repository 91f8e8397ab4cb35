"""A local stand-in of Anthropic's Messages API that replays recorded responses.

Tests drive the *real* Anthropic SDK (through `llm.client.AnthropicClient`) against it, on
127.0.0.1 and a port the OS picks. It answers ``POST /v1/messages`` with the next response of a
script, and checks what a real API would reject:

- auth: ``x-api-key: <key>`` or ``Authorization: Bearer <key>`` (newer SDKs send the latter);
  wrong or missing -> 401 ``authentication_error``;
- ``anthropic-version`` header present and date-shaped -> else 400;
- request shape: ``model``, ``max_tokens`` > 0, non-empty ``messages`` starting with ``user`` and
  alternating roles, every ``tool_use`` of an assistant turn answered by a ``tool_result`` with
  its id in the next user turn (and no ``tool_result`` for an unknown id), tools with a ``name``
  and an object ``input_schema``, a ``tool_choice`` naming a declared tool -> else 400
  ``invalid_request_error``.

Every request is recorded (`requests`: headers and JSON body) and every rule it broke is listed
in `violations`, so a test can assert ``standin.violations == []``.

Scripts are JSON files under ``tests/standins/fixtures/anthropic/`` (or lists built in the test)::

    {"description": "...",
     "responses": [
        {"status": 200, "body": {"content": [{"type": "tool_use", "id": "toolu_1",
                                              "name": "get_cluster", "input": {}}],
                                 "stop_reason": "tool_use"}},
        {"status": 529, "body": {"type": "error",
                                 "error": {"type": "overloaded_error", "message": "Overloaded"}}}
     ]}

An entry may carry ``"delay_seconds": n`` to answer late (client timeouts). Missing message
fields (``id``, ``type``, ``role``, ``model``, ``usage``, ``stop_reason``) are
filled in. When the script runs out the stand-in answers 500 and records a violation.

Use it in a test (the RCA tests reuse it the same way). Register the fixture once, in the test
folder's ``conftest.py``::

    from tests.standins.anthropic_api import anthropic_standin  # noqa: F401

then, in a test module::

    from tests.standins.anthropic_api import standin_llm_settings

    def test_agent(anthropic_standin):
        api = anthropic_standin("ticket_tool_rounds.json")  # or a list of responses
        settings = standin_llm_settings(api)                # LLMSettings pointing at it
        ...
        assert api.violations == []
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llm.config import LLMSettings

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
DEFAULT_KEY = "sk-ant-standin-key"
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class RecordedRequest:
    """One request the stand-in received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def texts(self) -> str:
        """All text the request sent to the model (system, messages, tool results), joined."""
        parts: list[str] = []
        system = self.body.get("system")
        if isinstance(system, str):
            parts.append(system)
        elif isinstance(system, list):
            parts.extend(b.get("text", "") for b in system if isinstance(b, dict))
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
                continue
            for block in content or []:
                if block.get("type") == "text":
                    parts.append(block.get("text", ""))
                elif block.get("type") == "tool_result":
                    inner = block.get("content")
                    parts.append(inner if isinstance(inner, str) else json.dumps(inner))
                elif block.get("type") == "tool_use":
                    parts.append(json.dumps(block.get("input", {})))
        return "\n".join(parts)


@dataclass
class AnthropicStandin:
    """A scripted Messages API on 127.0.0.1 (start with `start`, or use the pytest fixture)."""

    responses: list[dict[str, Any]]
    api_key: str = DEFAULT_KEY
    requests: list[RecordedRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _cursor: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_fixture(cls, name: str | Path, api_key: str = DEFAULT_KEY) -> AnthropicStandin:
        """A stand-in replaying a script file (a name under FIXTURES, or a path)."""
        path = Path(name)
        if not path.is_absolute() and not path.exists():
            path = FIXTURES / path
        script = json.loads(path.read_text(encoding="utf-8"))
        return cls(responses=list(script["responses"]), api_key=api_key)

    @property
    def url(self) -> str:
        assert self._server is not None, "stand-in not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def remaining(self) -> int:
        """Scripted responses not served yet."""
        return len(self.responses) - self._cursor

    def start(self) -> AnthropicStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = standin._handle(self.path, dict(self.headers.items()), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_standin_{len(standin.requests)}")
                self.end_headers()
                # The client may have given up (a timeout test): nothing to answer then.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> AnthropicStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling -----------------------------------------------------------------

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        with self._lock:
            self.requests.append(RecordedRequest(path=path, headers=lower, body=body))
            if path.split("?")[0] != "/v1/messages":
                return self._reject(404, "not_found_error", f"no route {path}")
            key = lower.get("x-api-key") or lower.get("authorization", "").removeprefix("Bearer ")
            if key != self.api_key:
                return self._reject(401, "authentication_error", "invalid x-api-key")
            version = lower.get("anthropic-version", "")
            if not _VERSION_RE.match(version):
                return self._reject(
                    400, "invalid_request_error", "anthropic-version header missing"
                )
            problem = check_request_shape(body)
            if problem:
                return self._reject(400, "invalid_request_error", problem)
            if self._cursor >= len(self.responses):
                return self._reject(500, "api_error", "stand-in script exhausted")
            scripted = self.responses[self._cursor]
            self._cursor += 1
        if scripted.get("delay_seconds"):
            # A slow API, to exercise client timeouts (the lock is released: others proceed).
            threading.Event().wait(float(scripted["delay_seconds"]))
        status = int(scripted.get("status", 200))
        if status != 200:
            return status, scripted["body"]
        return 200, _complete_message(scripted["body"], body, self._cursor)

    def _reject(self, status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
        self.violations.append(f"{status} {kind}: {message}")
        return status, {"type": "error", "error": {"type": kind, "message": message}}


def _complete_message(message: dict[str, Any], request: dict[str, Any], n: int) -> dict[str, Any]:
    content = message.get("content", [])
    has_tool = any(b.get("type") == "tool_use" for b in content)
    return {
        "id": message.get("id", f"msg_standin_{n:04d}"),
        "type": "message",
        "role": "assistant",
        "model": message.get("model", request.get("model", "claude-standin")),
        "content": content,
        "stop_reason": message.get("stop_reason", "tool_use" if has_tool else "end_turn"),
        "stop_sequence": None,
        "usage": message.get("usage", {"input_tokens": 1200, "output_tokens": 300}),
    }


def check_request_shape(body: dict[str, Any]) -> str:
    """The first rule of the Messages API ``body`` breaks, or '' when it is well formed."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: required string"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] <= 0:
        return "max_tokens: required positive integer"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: required non-empty list"
    tool_names = set()
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool.get("name"), str):
            return f"tools.{i}.name: required"
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return f"tools.{i}.input_schema: must be a JSON schema of type object"
        tool_names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if choice.get("type") not in {"auto", "any", "tool", "none"}:
            return "tool_choice.type: invalid"
        if choice.get("type") == "tool" and choice.get("name") not in tool_names:
            return f"tool_choice.name: {choice.get('name')!r} is not a declared tool"
    pending: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            return f"messages.{i}.role: expected {expected!r} (roles must alternate)"
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{i}.content: required"
        if role == "user":
            answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            if answered - pending:
                return f"messages.{i}: tool_result for unknown tool_use id {sorted(answered - pending)}"
            if pending - answered:
                return (
                    f"messages.{i}: tool_use ids without tool_result {sorted(pending - answered)}"
                )
            pending = set()
        else:
            pending = {b["id"] for b in blocks if b.get("type") == "tool_use"}
        for j, block in enumerate(blocks):
            if block.get("type") not in {"text", "tool_use", "tool_result", "image", "document"}:
                return f"messages.{i}.content.{j}.type: invalid"
    if messages[-1].get("role") != "user":
        return "messages: the last message must be from the user"
    return ""


def standin_llm_settings(standin: AnthropicStandin, **overrides: Any) -> LLMSettings:
    """LLMSettings pointing at the stand-in: its key and URL, no SDK retries, short timeout."""
    values: dict[str, Any] = {
        "api_key": standin.api_key,
        "base_url": standin.url,
        "max_retries": 0,
        "timeout_seconds": 10.0,
        "model": "claude-sonnet-5-5",
    }
    values.update(overrides)
    return LLMSettings(**values)


@pytest.fixture
def anthropic_standin() -> Iterator[Callable[..., AnthropicStandin]]:
    """Factory fixture: ``anthropic_standin("file.json")`` or ``anthropic_standin([...])``
    starts a stand-in (stopped after the test)."""
    started: list[AnthropicStandin] = []

    def start(
        script: str | Path | list[dict[str, Any]], api_key: str = DEFAULT_KEY
    ) -> AnthropicStandin:
        standin = (
            AnthropicStandin(responses=list(script), api_key=api_key)
            if isinstance(script, list)
            else AnthropicStandin.from_fixture(script, api_key=api_key)
        )
        started.append(standin.start())
        return standin

    yield start
    for standin in started:
        standin.stop()
