"""What every command gets: the settings, and the warehouse opened on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from settings import Settings
from warehouse import Warehouse, open_warehouse


@dataclass
class AppContext:
    """Settings resolved from flags/env/file, plus a lazily opened, migrated warehouse."""

    settings: Settings
    _warehouse: Warehouse | None = field(default=None, repr=False)

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = open_warehouse(self.settings.warehouse)
        return self._warehouse

    def close(self) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None


pass_app = click.make_pass_decorator(AppContext)


def echo_json(data: Any) -> None:
    """Print data as one JSON document on stdout (what scripts read)."""
    import json

    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def note(message: str) -> None:
    """A diagnostic or progress line: stderr, so stdout stays data."""
    click.echo(message, err=True)
