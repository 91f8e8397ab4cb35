"""The one place andon talks to ClickHouse (embedded chDB or a server, chosen by DSN).

Nothing else in andon imports clickhouse_connect. Analyses get Arrow/Polars frames back; writers
hand over rows or Arrow tables. Errors from the engine are translated here, once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from errors import AndonError, ConfigError, WarehouseError, WarehouseLockedError
from warehouse.config import WarehouseSettings
from warehouse.native import NativeBlock

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_identifier(name: str) -> str:
    """Backquote a database/table/column name after checking it is a plain identifier."""
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"not a valid ClickHouse identifier: {name!r}")
    return f"`{name}`"


def is_embedded(dsn: str) -> bool:
    """True for the in-process chDB engine (``chdb://...``)."""
    return dsn.startswith("chdb:")


def embedded_path(dsn: str) -> Path:
    """The directory of an embedded chDB DSN (``chdb:///abs/dir``)."""
    path = urlparse(dsn).path
    if not path:
        raise ConfigError(f"embedded DSN needs an absolute directory: {dsn!r}")
    return Path(path)


# Embedded directories this process has opened: the engine's own lock on them is ours.
_opened_here: set[Path] = set()


def _locked_message(path: Path) -> str:
    return (
        f"the embedded warehouse {path} is held by another process (is `andon serve` "
        "running?). Stop it, or send data to its receivers and use its console/API."
    )


def ensure_embedded_free(path: Path) -> None:
    """Fail clearly when another process holds an embedded warehouse directory.

    ClickHouse keeps an exclusive ``flock`` on ``<dir>/status`` while it runs, and chDB reports
    a second opener only with a generic initialisation error, so we look at the lock first.
    """
    if path.resolve() in _opened_here:
        return
    try:
        fd = os.open(path / "status", os.O_RDONLY)
    except OSError:
        return  # no status file: nobody has opened this directory yet
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except BlockingIOError as exc:
        raise WarehouseLockedError(_locked_message(path)) from exc
    finally:
        os.close(fd)


def _describe_engine_error(dsn: str, exc: Exception) -> WarehouseError:
    text = str(exc)
    if "Cannot lock file" in text or "already initialized with path" in text:
        where = embedded_path(dsn) if is_embedded(dsn) else dsn
        return WarehouseLockedError(_locked_message(Path(str(where))))
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return WarehouseError(f"warehouse error: {first_line[:500]}")


class Warehouse:
    """A connection to the warehouse, scoped to andon's database.

    Thread-safe: each thread gets its own clickhouse_connect client (chDB handles and HTTP
    sessions are not meant to be shared across threads); all of them talk to the same engine.
    """

    def __init__(self, settings: WarehouseSettings) -> None:
        self.settings = settings
        self.dsn = settings.dsn
        self.database = settings.database
        quote_identifier(self.database)
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self._closed = False
        # Create the database through a client without a default database.
        bootstrap = self._new_client(database=None)
        try:
            on_cluster = (
                f" ON CLUSTER {quote_identifier(settings.cluster)}" if settings.cluster else ""
            )
            self._run(
                bootstrap.command, f"CREATE DATABASE IF NOT EXISTS {self.database}{on_cluster}"
            )
        finally:
            bootstrap.close()

    # -- connection management -------------------------------------------------------------

    def _new_client(self, database: str | None) -> Client:
        try:
            if is_embedded(self.dsn):
                path = embedded_path(self.dsn)
                path.mkdir(parents=True, exist_ok=True)
                ensure_embedded_free(path)
                client = clickhouse_connect.get_client(dsn=f"chdb://{path}", database=database)
                _opened_here.add(path.resolve())
                return client
            if self.dsn.startswith(("http://", "https://", "clickhouse://", "clickhouses://")):
                kwargs: dict[str, Any] = {"dsn": self.dsn}
                if database:
                    kwargs["database"] = database
                return clickhouse_connect.get_client(**kwargs)
        except AndonError:
            raise
        except ClickHouseError as exc:
            raise _describe_engine_error(self.dsn, exc) from exc
        except OSError as exc:
            raise WarehouseError(f"cannot reach the warehouse at {self.dsn}: {exc}") from exc
        except Exception as exc:  # chDB raises plain RuntimeError/ProgrammingError on lock issues
            raise _describe_engine_error(self.dsn, exc) from exc
        raise ConfigError(
            f"unsupported warehouse DSN {self.dsn!r}: use chdb:///abs/dir or http(s)://host:8123"
        )

    @property
    def client(self) -> Client:
        """This thread's client (created on first use)."""
        if self._closed:
            raise WarehouseError("the warehouse connection is closed")
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client(database=self.database)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        """Close every client this object opened (chDB needs that before another path opens)."""
        with self._lock:
            clients, self._clients = self._clients, []
            self._closed = True
        for client in clients:
            # Closing is best-effort: the engine may already be gone.
            with contextlib.suppress(Exception):
                client.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statements ---------------------------------------------------------------------------

    @staticmethod
    def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClickHouseError as exc:
            raise WarehouseError(f"warehouse error: {_first_line(exc)}") from exc
        except (OSError, RuntimeError) as exc:
            raise WarehouseError(f"warehouse unavailable: {_first_line(exc)}") from exc

    def table(self, name: str) -> str:
        """Fully qualified, quoted name of one of andon's tables."""
        return f"{quote_identifier(self.database)}.{quote_identifier(name)}"

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        """Run a statement that returns no rows (DDL, INSERT ... SELECT, OPTIMIZE)."""
        return self._run(self.client.command, sql, parameters=parameters)

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples (for small results)."""
        return list(self._run(self.client.query, sql, parameters=parameters).result_rows)

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        result = self.rows(sql, parameters)
        return result[0][0] if result else None

    def arrow(self, sql: str, parameters: dict[str, Any] | None = None) -> pa.Table:
        """Run a query and return an Arrow table (the fast path for analyses)."""
        return self._run(self.client.query_arrow, sql, parameters=parameters)

    def frame(self, sql: str, parameters: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a query and return a Polars frame."""
        result = pl.from_arrow(self.arrow(sql, parameters))
        assert isinstance(result, pl.DataFrame)
        return result

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> int:
        """Insert rows (one transaction-sized block); returns the number written."""
        if not rows:
            return 0
        self._run(
            self.client.insert,
            table,
            rows,
            column_names=list(column_names),
            database=self.database,
            settings=settings,
        )
        return len(rows)

    def insert_columns(
        self,
        table: str,
        columns: Sequence[Sequence[Any]],
        column_names: Sequence[str],
    ) -> int:
        """Insert column-oriented data (one list per column): cheaper than rows for big batches."""
        if not columns or not columns[0]:
            return 0
        self._run(
            self.client.insert,
            table,
            columns,
            column_names=list(column_names),
            database=self.database,
            column_oriented=True,
        )
        return len(columns[0])

    def insert_native(self, table: str, blocks: Sequence[NativeBlock]) -> int:
        """Insert already-encoded Native blocks (`warehouse.native`) with one statement.

        The blocks must share their column names; only the engine's work is left here, and it
        runs without the interpreter lock. Returns the number of rows written.
        """
        rows = sum(block.rows for block in blocks)
        if rows == 0:
            return 0
        names = blocks[0].column_names
        if any(block.column_names != names for block in blocks):
            raise WarehouseError(f"Native blocks for {table} have different columns")
        self._run(
            self.client.raw_insert,
            self.table(table),
            list(names),
            # An iterable of chunks: the engine reads them in turn, no joined copy is made.
            (block.payload for block in blocks if block.rows),
            fmt="Native",
        )
        return rows

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        """Insert an Arrow table whose column names match the table's."""
        if data.num_rows == 0:
            return 0
        self._run(self.client.insert_arrow, table, data, database=self.database)
        return int(data.num_rows)

    def table_exists(self, name: str) -> bool:
        """Whether andon's database has this table."""
        return bool(
            self.scalar(
                "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
                {"db": self.database, "t": name},
            )
        )

    def columns(self, name: str) -> dict[str, str]:
        """Column name -> type of one of andon's tables."""
        return dict(
            self.rows(
                "SELECT name, type FROM system.columns WHERE database = {db:String} "
                "AND table = {t:String} ORDER BY position",
                {"db": self.database, "t": name},
            )
        )

    @contextmanager
    def session_settings(self, **settings: Any) -> Iterator[None]:
        """Apply ClickHouse settings to this thread's client for a block (e.g. readonly=1)."""
        client = self.client
        previous = {key: client.get_client_setting(key) for key in settings}
        for key, value in settings.items():
            client.set_client_setting(key, value)
        try:
            yield
        finally:
            for key, value in previous.items():
                client.set_client_setting(key, value if value is not None else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


def connect(settings: WarehouseSettings) -> Warehouse:
    """Open the warehouse described by ``settings`` (migrations are applied separately)."""
    return Warehouse(settings)
