"""Find and validate app descriptions: built-in names or paths to TOML files."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from errors import InputError
from simulator.spec import AppSpec


def builtin_apps() -> list[str]:
    """Names of the apps shipped in ``simulator/apps/``."""
    folder = resources.files("simulator.apps")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _source(name_or_path: str | Path) -> tuple[str, str]:
    text_name = str(name_or_path)
    if text_name in builtin_apps():
        resource = resources.files("simulator.apps") / f"{text_name}.toml"
        return f"simulator/apps/{text_name}.toml", resource.read_text(encoding="utf-8")
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError(
            f"no app {text_name!r}: not a built-in app ({', '.join(builtin_apps())}) "
            "nor a readable .toml file"
        )
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read app description ({exc.strerror})", file=str(path)) from exc


def load_app(name_or_path: str | Path) -> AppSpec:
    """Load and validate an app description: a built-in name ("shop", "saas") or a .toml path.

    Errors name the file and the field: ``apps/x.toml: steps.pay.calls.0.latency_ms: ...``.
    """
    where, text = _source(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=where) from exc
    return parse_app(data, where)


def parse_app(data: dict[str, object], where: str = "<app>") -> AppSpec:
    """Validate an already parsed description (a dict) into an `AppSpec`."""
    try:
        return AppSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        raise InputError(message, file=where, field=field or None) from exc
