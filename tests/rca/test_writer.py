"""The RCA agent's words: grounded or rejected, through the real Anthropic SDK against a local
stand-in of the Messages API; and delivery to a Slack-compatible webhook stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from rca import service, store
from settings import Settings
from tests.rca.test_rca import NOW, bad_deploy_world
from tests.standins.anthropic_api import AnthropicStandin, standin_llm_settings
from warehouse import Warehouse


def _submit(tool_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "summary": fields.get("summary", ""),
        "hypothesis": fields.get("hypothesis", ""),
        "gate_analysis": fields.get("gate_analysis", ""),
        "next_steps": fields.get("next_steps", []),
    }
    return {
        "status": 200,
        "body": {
            "content": [{"type": "tool_use", "id": tool_id, "name": "submit_brief", "input": body}],
            "stop_reason": "tool_use",
        },
    }


UNGROUNDED = dict(
    summary="Since 11:10 UTC checkout p95 rose to 4.2 s for 987,654,321 users.",
    hypothesis="Deployment dep-pricing-999 (PR #99) of pricing 7.7.7 caused it; see trace "
    "0123456789abcdef0123456789abcdef.",
    gate_analysis="The performance gate passed.",
    next_steps=["Roll back pricing."],
)
GROUNDED = dict(
    summary="Since 11:10 UTC, p95 latency of pricing /quote is degraded.",
    hypothesis="It originates in pricing SELECT prices; deployment dep-pricing-200 of pricing "
    "2.0.0 (PR #11) is the most likely cause: its version split shows the new version degraded.",
    gate_analysis="The performance gate measured p95 30 ms in staging at 5 rps and did not "
    "exercise /quote.",
    next_steps=[
        "Roll back pricing 2.0.0 (dep-pricing-200).",
        "Add /quote to the performance gate.",
    ],
)


def _with_llm(settings: Settings, api: AnthropicStandin) -> Settings:
    return settings.model_copy(update={"llm": standin_llm_settings(api)})


def test_model_brief_that_cites_unknown_facts_is_sent_back_then_rejected(
    warehouse: Warehouse, settings: Settings, anthropic_standin: Callable[..., AnthropicStandin]
) -> None:
    bad_deploy_world(warehouse)
    api = anthropic_standin([_submit("toolu_1", **UNGROUNDED), _submit("toolu_2", **UNGROUNDED)])
    [incident] = service.detect(warehouse, _with_llm(settings, api), now=NOW).incidents
    assert api.violations == [] and api.remaining == 0
    # The second request sent the grounding failures back to the model as a tool error.
    retry = api.requests[1].body["messages"][-1]["content"][0]
    assert retry["type"] == "tool_result" and retry.get("is_error") is True
    for token in (
        "PR #99",
        "dep-pricing-999",
        "4.2 s",
        "987,654,321",
        "0123456789abcdef0123456789abcdef",
        "7.7.7",
    ):
        assert token in retry["content"], token
    # The evidence went to the model as delimited untrusted data, with the culprit in it.
    sent = api.requests[0].texts()
    assert "<untrusted_data" in sent and "dep-pricing-200" in sent
    brief = store.load_brief(warehouse, incident.id)
    assert brief is not None
    assert brief.writer == "offline" and brief.grounded
    assert brief.grounding_issues and "model brief rejected" in brief.grounding_issues[0]
    assert "dep-pricing-999" not in brief.text.hypothesis
    md = service.brief(warehouse, settings, incident.id, "md")
    assert "PR #99" not in md and "model brief rejected" in md


def test_model_brief_fixed_after_send_back_is_kept(
    warehouse: Warehouse, settings: Settings, anthropic_standin: Callable[..., AnthropicStandin]
) -> None:
    bad_deploy_world(warehouse)
    api = anthropic_standin([_submit("toolu_1", **UNGROUNDED), _submit("toolu_2", **GROUNDED)])
    [incident] = service.detect(warehouse, _with_llm(settings, api), now=NOW).incidents
    assert api.violations == []
    brief = store.load_brief(warehouse, incident.id)
    assert brief is not None and brief.writer.startswith("claude:") and brief.grounded
    assert brief.text.hypothesis == GROUNDED["hypothesis"]


def test_api_error_falls_back_to_the_offline_writer(
    warehouse: Warehouse, settings: Settings, anthropic_standin: Callable[..., AnthropicStandin]
) -> None:
    bad_deploy_world(warehouse)
    overloaded = {
        "status": 529,
        "body": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    }
    api = anthropic_standin([overloaded])
    [incident] = service.detect(warehouse, _with_llm(settings, api), now=NOW).incidents
    brief = store.load_brief(warehouse, incident.id)
    assert brief is not None and brief.writer == "offline"
    assert "529" in brief.grounding_issues[0]


class _Webhook:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length))
                ok = self.headers.get("content-type", "").startswith("application/json")
                ok = (
                    ok
                    and isinstance(body.get("text"), str)
                    and isinstance(body.get("blocks"), list)
                )
                hook.posts.append(body)
                self.send_response(hook.status if ok else 400)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"invalid_payload")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/secret"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Callable[[int], _Webhook]]:
    started: list[_Webhook] = []

    def start(status: int = 200) -> _Webhook:
        started.append(_Webhook(status))
        return started[-1]

    yield start
    for hook in started:
        hook.close()


def test_new_brief_is_posted_to_the_webhook(
    warehouse: Warehouse, settings: Settings, webhook: Callable[[int], _Webhook]
) -> None:
    bad_deploy_world(warehouse)
    hook = webhook(200)
    rca = settings.rca.model_copy(
        update={"slack_webhook_url": SecretStr(hook.url), "console_url": "http://console.test"}
    )
    result = service.detect(warehouse, settings.model_copy(update={"rca": rca}), now=NOW)
    [incident] = result.incidents
    assert result.delivered == [incident.id]
    [post] = hook.posts
    assert "dep-pricing-200" in post["text"] and "PR #11" in post["text"]
    assert f"http://console.test/incidents/{incident.id}" in post["text"]
    assert post["blocks"][0]["type"] == "header"
    delivered = warehouse.scalar(
        f"SELECT Delivered FROM {warehouse.table('andon_incident_briefs')} WHERE IncidentId = {{id:String}}",
        {"id": incident.id},
    )
    assert list(delivered) == ["slack"]


def test_failed_delivery_is_reported_and_the_brief_kept(
    warehouse: Warehouse, settings: Settings, webhook: Callable[[int], _Webhook]
) -> None:
    bad_deploy_world(warehouse)
    hook = webhook(500)
    rca = settings.rca.model_copy(update={"slack_webhook_url": SecretStr(hook.url)})
    result = service.detect(warehouse, settings.model_copy(update={"rca": rca}), now=NOW)
    [incident] = result.incidents
    assert result.delivered == []
    assert any("slack delivery" in n and "500" in n for n in result.notes)
    assert store.load_brief(warehouse, incident.id) is not None
