"""Sign-in, sessions, CSRF and API tokens."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.app import console_routes
from console.auth import (
    LoginThrottle,
    SessionSigner,
    hash_password,
    verify_password,
)
from settings import Settings
from tests.console.conftest import API_TOKEN, Context, csrf_of, sign_in
from warehouse import Warehouse


def test_password_hashes_verify_and_differ_per_salt() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("S3cret", first)
    assert not verify_password("s3cret", "not-a-hash")


def test_session_cookie_is_signed_and_expires() -> None:
    signer = SessionSigner(b"k1")
    cookie, session = signer.issue("maria", 60, now=1000)
    assert signer.read(cookie, now=1001) == session
    assert signer.read(cookie, now=1061) is None  # expired
    assert SessionSigner(b"k2").read(cookie, now=1001) is None  # another key
    payload, mac = cookie.rsplit(".", 1)
    assert signer.read(payload[:-2] + "xx." + mac, now=1001) is None  # tampered


def test_throttle_blocks_after_repeated_failures() -> None:
    throttle = LoginThrottle(limit=3, window_s=60)
    for t in range(3):
        assert throttle.blocked_for("k", now=t) == 0
        throttle.failed("k", now=t)
    assert throttle.blocked_for("k", now=10) > 0
    assert throttle.blocked_for("k", now=61) == 0


def test_pages_need_sign_in(client: TestClient) -> None:
    response = client.get("/runs?job=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/runs%3Fjob%3Dx"
    assert "Sign in to andon" in client.get("/login").text


def test_sign_in_with_wrong_password_is_refused(client: TestClient) -> None:
    response = sign_in(client, password="nope")
    assert response.status_code == 401
    assert "Wrong name or password." in response.text
    assert sign_in(client, name="nobody").status_code == 401


def test_sign_in_and_out(client: TestClient) -> None:
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Signed in as <strong>Maria (PM)</strong>" in home.text
    out = client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_form_without_its_token_is_refused(client: TestClient) -> None:
    response = client.post("/login", data={"name": "maria", "password": "x", "csrf": "forged"})
    assert response.status_code == 403


def test_forms_without_the_csrf_token_are_refused(client: TestClient) -> None:
    sign_in(client)
    response = client.post("/jobs/housekeeping/run", data={"csrf": "forged"})
    assert response.status_code == 403
    assert "This form has expired" in response.text


def test_open_redirects_are_not_followed(client: TestClient) -> None:
    page = client.get("/login?next=https://evil.example/")
    response = client.post(
        "/login",
        data={
            "name": "maria",
            "password": "correct horse battery staple",
            "csrf": csrf_of(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_api_needs_a_token_or_a_session(client: TestClient) -> None:
    response = client.get("/api/v1/runs")
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = client.get("/api/v1/runs", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401 and bad.json() == {"error": "unknown API token"}
    good = client.get("/api/v1/runs", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert good.status_code == 200 and good.json() == {"runs": []}


def test_api_changes_from_a_session_need_the_csrf_header(client: TestClient) -> None:
    sign_in(client)
    assert client.get("/api/v1/jobs").status_code == 200
    refused = client.post("/api/v1/jobs/housekeeping/run", json={"wait": True})
    assert refused.status_code == 401 and "X-CSRF-Token" in refused.json()["error"]
    csrf = csrf_of(client.get("/").text)
    done = client.post(
        "/api/v1/jobs/housekeeping/run", json={"wait": True}, headers={"X-CSRF-Token": csrf}
    )
    assert done.status_code == 202, done.text
    assert done.json()["actor"] == "maria"


def test_without_reviewers_people_sign_in_with_the_printed_access_token(
    settings: Settings, warehouse: Warehouse
) -> None:
    ctx = Context(settings, warehouse)  # no [[console.users]]
    app = Starlette(routes=console_routes(ctx))
    hint = "\n".join(note("http://127.0.0.1:8318") for note in ctx.startup_notes)
    assert "http://127.0.0.1:8318/login?token=" in hint
    token = re.search(r"access token: (\S+) ", hint).group(1)  # type: ignore[union-attr]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get(f"/login?token={token}")
        assert "No reviewers are set up yet" in page.text and token in page.text
        wrong = client.post(
            "/login", data={"name": "sam", "password": "nope", "csrf": csrf_of(page.text)}
        )
        assert wrong.status_code == 401
        ok = client.post(
            "/login",
            data={"name": "sam", "password": token, "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert ok.status_code == 303, ok.text[ok.text.find("flash") : ok.text.find("flash") + 200]
        assert "Signed in as <strong>sam</strong>" in client.get("/").text
        cookie = client.cookies.get("andon_session")
    # A restarted console has a new token: the old session no longer works.
    with TestClient(Starlette(routes=console_routes(ctx)), base_url="http://127.0.0.1") as other:
        other.cookies.set("andon_session", cookie or "")
        assert other.get("/", follow_redirects=False).status_code == 303


def test_how_to_open_the_console(console_ctx: Context, settings: Settings) -> None:
    from console.access import how_to_open

    with_users = "\n".join(how_to_open(console_ctx.settings))
    assert "andon serve" in with_users and "http://127.0.0.1:8318" in with_users
    assert "sign in as maria" in with_users
    assert "/login?token=" in "\n".join(how_to_open(settings))


def test_every_page_explains_itself_on_an_empty_warehouse(client: TestClient) -> None:
    sign_in(client)
    expected = {
        "/": "no analysis yet",
        "/tickets": "No tickets are waiting for review",
        "/incidents": "No incidents",
        "/friction": "No flows yet",
        "/runs": "No runs yet",
    }
    for path, text in expected.items():
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert text in page.text, path
    assert client.get("/traces/" + "0" * 32).status_code == 404
    assert client.get("/traces/not-a-trace").status_code == 400
