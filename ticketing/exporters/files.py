"""The default exporter: one Markdown and one JSON file per ticket, in ``export_dir``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ticketing.exporters.render import markdown, marker
from ticketing.models import ExportRecord, Ticket


class FilesExporter:
    """Writes ``<dir>/<ticket id>.md`` and ``.json`` (atomically; re-export rewrites them)."""

    target = "files"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _paths(self, ticket: Ticket) -> tuple[Path, Path]:
        return self.directory / f"{ticket.id}.md", self.directory / f"{ticket.id}.json"

    def find(self, ticket: Ticket) -> ExportRecord | None:
        md, _ = self._paths(ticket)
        if md.is_file() and marker(ticket.id) in md.read_text(encoding="utf-8"):
            return ExportRecord(target=self.target, external_id=str(md), url=md.resolve().as_uri())
        return None

    def create(self, ticket: Ticket) -> ExportRecord:
        self.directory.mkdir(parents=True, exist_ok=True)
        md, js = self._paths(ticket)
        _write(js, json.dumps(ticket.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")
        _write(md, f"# {ticket.title}\n\n{markdown(ticket)}")
        return ExportRecord(target=self.target, external_id=str(md), url=md.resolve().as_uri())


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
