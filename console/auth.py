"""Who is asking: password hashes, signed session cookies, CSRF tokens and API tokens.

Pure functions over bytes and strings (no request objects), so they are easy to test:

- passwords are stored as scrypt hashes: ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64);
- a session is a signed cookie ``<payload>.<hmac>``: the payload (user, expiry, CSRF token) is
  base64 JSON, the signature HMAC-SHA256 with the console's secret key; nothing is stored
  server-side, and a cookie whose user is no longer configured is refused;
- API tokens are random strings; settings keep only their SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from console.config import _NAME, ConsoleSettings, ConsoleUser

SESSION_COOKIE = "andon_session"
LOGIN_CSRF_COOKIE = "andon_login_csrf"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    """An scrypt hash of ``password`` to put in settings (``[[console.users]] password_hash``)."""
    if not password:
        raise ValueError("the password is empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=128 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_api_token() -> tuple[str, str]:
    """A fresh API token and its SHA-256 (the part that goes into settings)."""
    token = "andon_" + secrets.token_urlsafe(32)
    return token, token_sha256(token)


def token_sha256(token: str) -> str:
    """The SHA-256 (hex) under which an API token is configured."""
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_name(settings: ConsoleSettings, presented: str) -> str | None:
    """The configured name of the token presented, or None."""
    digest = token_sha256(presented)
    found = None
    for entry in settings.api_tokens:
        # Compare against every entry so timing does not reveal which one matched.
        if hmac.compare_digest(digest, entry.sha256.get_secret_value().strip().lower()):
            found = entry.name
    return found


def find_user(settings: ConsoleSettings, name: str) -> ConsoleUser | None:
    """The configured reviewer called ``name`` (case-sensitive), or None."""
    return next((u for u in settings.users if u.name == name), None)


def authenticate(settings: ConsoleSettings, name: str, password: str) -> ConsoleUser | None:
    """The user when name and password match; None otherwise (same work either way)."""
    user = find_user(settings, name)
    if user is None:
        # Hash anyway, so a wrong name takes as long as a wrong password.
        verify_password(password, hash_password("x", salt=b"0" * 16))
        return None
    return user if verify_password(password, user.password_hash.get_secret_value()) else None


@dataclass(frozen=True)
class Session:
    """A signed-in reviewer: name, when the sign-in expires, and the CSRF token of the session.

    ``via`` is how they signed in: ``password`` (a configured user) or ``token`` (the access
    token a console with no configured users prints at start; ``marker`` ties the session to
    that token, so a restart with a new token ends it).
    """

    user: str
    expires: int
    csrf: str
    via: str = "password"
    marker: str = ""


class SessionSigner:
    """Signs and checks session cookies with one secret key."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"andon-console-session\0" + secret).digest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(
        self,
        user: str,
        lifetime_s: float,
        now: float | None = None,
        via: str = "password",
        marker: str = "",
    ) -> tuple[str, Session]:
        """A new cookie value for ``user`` and the session it stands for."""
        now = time.time() if now is None else now
        session = Session(
            user=user,
            expires=int(now + lifetime_s),
            csrf=secrets.token_urlsafe(24),
            via=via,
            marker=marker,
        )
        payload = _b64(
            json.dumps(
                {"u": user, "e": session.expires, "c": session.csrf, "v": via, "m": marker}
            ).encode()
        )
        return f"{payload}.{self._mac(payload)}", session

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie, or None when it is missing, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(
                user=str(data["u"]),
                expires=int(data["e"]),
                csrf=str(data["c"]),
                via=str(data.get("v", "password")),
                marker=str(data.get("m", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        return session if session.expires > now else None


def token_marker(token: str) -> str:
    """A short fingerprint of the access token, stored in the sessions it opened."""
    return hashlib.sha256(b"andon-access-token\0" + token.encode()).hexdigest()[:16]


def valid_name(name: str) -> bool:
    """Names people sign in under (the same rule as configured users)."""
    return bool(_NAME.match(name))


def same_token(expected: str, presented: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


class LoginThrottle:
    """Slows down password guessing: at most ``limit`` failures per name and address per window."""

    def __init__(self, limit: int = 5, window_s: float = 300.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def blocked_for(self, key: str, now: float | None = None) -> float:
        """Seconds until ``key`` may try again (0 when it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                return 0.0
            return max(0.0, failures[0] + self.window_s - now)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
