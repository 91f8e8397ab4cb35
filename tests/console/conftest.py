"""Console fixtures: a signed-in HTTP client over the console routes, on the test warehouse."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.app import console_routes
from console.auth import hash_password, token_sha256
from settings import Settings
from warehouse import Warehouse

PASSWORD = "correct horse battery staple"
API_TOKEN = "andon_test_token_0123456789"
_HASH = hash_password(PASSWORD, salt=b"fixed-test-salt!")


def console_settings(settings: Settings) -> Settings:
    """The test settings plus one reviewer (maria) and one API token (ci)."""
    return settings.model_copy(
        update={
            "console": settings.console.model_validate(
                {
                    "users": [
                        {"name": "maria", "password_hash": _HASH, "display_name": "Maria (PM)"}
                    ],
                    "api_tokens": [{"name": "ci", "sha256": token_sha256(API_TOKEN)}],
                    "secret_key": "test-secret",
                }
            )
        }
    )


@dataclass
class Context:
    settings: Settings
    warehouse: Warehouse
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    startup_notes: list[Callable[[str], str]] = field(default_factory=list)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def sign_in(client: TestClient, name: str = "maria", password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )


@pytest.fixture
def console_ctx(settings: Settings, warehouse: Warehouse) -> Context:
    return Context(console_settings(settings), warehouse)


@pytest.fixture
def client(console_ctx: Context) -> Iterator[TestClient]:
    app = Starlette(routes=console_routes(console_ctx))
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
