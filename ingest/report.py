"""What an ingest did: rows stored, duplicates skipped, and every rejected row with its place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from errors import InputError


@dataclass(frozen=True)
class Rejection:
    """One malformed row or event, and where it was."""

    file: str
    line: int | None
    field: str | None
    reason: str

    @classmethod
    def from_error(cls, exc: InputError, file: str, line: int | None) -> Rejection:
        return cls(file=exc.file or file, line=exc.line or line, field=exc.field, reason=exc.reason)

    def __str__(self) -> str:
        return str(InputError(self.reason, file=self.file, line=self.line, field=self.field))


@dataclass
class IngestReport:
    """The outcome of one file, pull or request: stored + duplicates + rejected = rows seen."""

    source: str
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "errors": [str(r) for r in self.rejected],
        }
