"""How a person opens the console: the lines `andon demo` and the docs print."""

from __future__ import annotations

from typing import Any


def console_url(settings: Any) -> str:
    """Where `andon serve` serves the console with these settings."""
    server = getattr(settings, "server", None)
    host = getattr(server, "console_host", "127.0.0.1")
    port = getattr(server, "console_port", 8318)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}"


def how_to_open(settings: Any) -> list[str]:
    """Plain instructions to open the console on what the warehouse holds."""
    url = console_url(settings)
    users = [u.name for u in settings.console.users]
    lines = ["Open the console (review queue, incident briefs, friction explorer, runs):",
             "  andon serve"]  # fmt: skip
    if users:
        lines.append(f"  then open {url} and sign in as {', '.join(users)}")
    else:
        lines.append(
            f"  then open the sign-in link it prints ({url}/login?token=...) and type your name"
        )
    return lines
