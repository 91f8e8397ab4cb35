"""Reading typed fields out of untrusted mappings, with errors that name the field.

Every collector turns CSV rows, JSON lines and webhook payloads into typed values through these
functions, so a bad value is always reported the same way: `InputError` with the field name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from errors import InputError

MISSING: Any = object()


def get(data: Mapping[str, Any], name: str, *, required: bool = False) -> Any:
    """The raw value of ``name`` (None when absent); `InputError` if required and empty."""
    value = data.get(name)
    if required and (value is None or (isinstance(value, str) and not value.strip())):
        raise InputError("missing required value", field=name)
    return value


def text(
    data: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 1_000_000
) -> str:
    """A string field; numbers are accepted and turned into text (ids often arrive as ints)."""
    value = get(data, name, required=required)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"expected text, got {type(value).__name__}", field=name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    result = str(value).strip()
    if len(result) > limit:
        raise InputError(f"longer than {limit} characters", field=name)
    return result


def integer(
    data: Mapping[str, Any], name: str, *, required: bool = False, minimum: int = 0
) -> int | None:
    """A non-negative integer field (JSON number or digits in a string)."""
    value = get(data, name, required=required)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InputError("expected an integer, got a boolean", field=name)
    try:
        number = int(str(value).strip().lstrip("#")) if not isinstance(value, int) else value
    except ValueError as exc:
        raise InputError(f"expected an integer, got {str(value)[:40]!r}", field=name) from exc
    if number < minimum:
        raise InputError(f"must be at least {minimum}", field=name)
    return number


def number(value: Any, name: str) -> float:
    """A finite float (JSON number or numeric string)."""
    if isinstance(value, bool):
        raise InputError("expected a number, got a boolean", field=name)
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"expected a number, got {str(value)[:40]!r}", field=name) from exc
    if not math.isfinite(result):
        raise InputError("must be a finite number", field=name)
    return result


def parse_time(value: Any, name: str) -> datetime:
    """ISO 8601 text or Unix seconds -> naive UTC datetime (how the warehouse stores time)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < 32503680000:
            raise InputError(f"not a valid Unix time: {value}", field=name)
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value.strip():
        raw = value.strip()
        try:
            moment = datetime.fromisoformat(raw.replace("z", "Z"))
        except ValueError as exc:
            raise InputError(f"not an ISO 8601 time: {raw[:40]!r}", field=name) from exc
    else:
        raise InputError("expected an ISO 8601 time", field=name)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def time_field(data: Mapping[str, Any], name: str, *, required: bool = False) -> datetime | None:
    """An optional/required ISO 8601 field of a mapping."""
    value = get(data, name, required=required)
    if value is None or value == "":
        return None
    return parse_time(value, name)


def string_list(data: Mapping[str, Any], name: str) -> list[str]:
    """A list of strings: a JSON array, or text separated by commas/semicolons (CSV cells)."""
    value = get(data, name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            import json

            try:
                value = json.loads(stripped)
            except ValueError as exc:
                raise InputError("invalid JSON array", field=name) from exc
        else:
            sep = ";" if ";" in stripped else ","
            return [part.strip() for part in stripped.split(sep) if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise InputError("expected a list of strings", field=name)
    return [str(v).strip() for v in value if str(v).strip()]
