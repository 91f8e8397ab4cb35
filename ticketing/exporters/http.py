"""The one HTTP helper the tracker exporters share: a call, with failures translated."""

from __future__ import annotations

from typing import Any

import httpx

from errors import AuthError
from ticketing.exporters import ExportError


def call(client: httpx.Client, method: str, url: str, *, service: str, **kwargs: Any) -> Any:
    """Send one request; return the JSON body, or raise `AuthError` / `ExportError`."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise ExportError(f"cannot reach {service} at {url}: {exc}") from exc
    if response.status_code in (401, 403):
        raise AuthError(
            f"{service} rejected the credentials ({response.status_code}): {_detail(response)}"
        )
    if response.status_code >= 400:
        raise ExportError(f"{service} answered {response.status_code}: {_detail(response)}")
    try:
        return response.json()
    except ValueError as exc:
        raise ExportError(f"{service} answered with a body that is not JSON") from exc


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "errorMessages", "errors", "error"):
            if key in body:
                return str(body[key])[:300]
    return str(body)[:300]
