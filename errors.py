"""Domain errors, in one place.

The CLI turns any `AndonError` into a one-line ``Error: ...`` and exit code 1; the HTTP layer
turns it into ``http_status`` with a JSON body ``{"error": message}``. Anything else is a bug and
keeps its traceback.

    AndonError
    ├── ConfigError            bad settings file, env var or flag
    ├── InputError             bad user input (file, line, field)
    │   ├── PayloadTooLarge    a body over the configured limit
    │   └── UnsupportedMediaType   a content type or encoding we do not speak
    ├── NotFoundError          an id that does not exist
    ├── ConflictError          a state transition that is not allowed
    ├── AuthError              missing or wrong credentials
    └── WarehouseError         the warehouse failed or cannot be reached
        └── WarehouseLockedError   another process holds the embedded warehouse
"""

from __future__ import annotations


class AndonError(Exception):
    """Base of every error andon reports to a user instead of crashing."""

    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(AndonError):
    """A setting is missing or invalid."""

    http_status = 500


class InputError(AndonError):
    """Bad input from a user: names where (file, line, field) when known."""

    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field!r})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.reason = message


class PayloadTooLarge(InputError):
    """A request or file is over the configured size limit."""

    http_status = 413


class UnsupportedMediaType(InputError):
    """A request's Content-Type or Content-Encoding that the endpoint does not speak."""

    http_status = 415


class NotFoundError(AndonError):
    """An id (ticket, incident, run) that does not exist."""

    http_status = 404


class ConflictError(AndonError):
    """A state change that the current state does not allow."""

    http_status = 409


class AuthError(AndonError):
    """Missing or wrong credentials."""

    http_status = 401


class WarehouseError(AndonError):
    """The warehouse failed, or cannot be reached."""

    http_status = 503


class WarehouseLockedError(WarehouseError):
    """The embedded warehouse directory is held by another process."""

    http_status = 503
