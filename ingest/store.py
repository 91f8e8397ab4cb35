"""Idempotent, all-or-nothing inserts for the collector tables.

Every collector row has a deterministic key and a content hash. Before inserting, we look up
which (key, content) pairs the table already holds and insert only the new ones, in one insert
call: re-importing a file or receiving a webhook twice stores nothing new, and counts are right
without FINAL. An update of the same key (a ticket edited, a deployment finishing) has a new
content hash and is stored as a new row, so history is kept. A process-wide lock serialises the
check-then-insert, so two concurrent webhook deliveries of one event cannot both pass the check.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from warehouse import Warehouse

_LOCK = threading.Lock()


def insert_new(
    wh: Warehouse,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key_columns: Sequence[str],
    hash_column: str,
    scope: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Insert the rows whose (key, hash) is not stored yet; returns (stored, duplicates).

    The key is the ``key_columns`` joined with ``|``. ``scope`` narrows the lookup to rows with these column values (e.g. ``{"Source": "csv"}``)
    when the key is only unique within them.
    """
    if not rows:
        return 0, 0
    names = list(columns)
    key_at = [names.index(c) for c in key_columns]
    hash_at = names.index(hash_column)
    unique: dict[tuple[str, str], Sequence[Any]] = {}
    for row in rows:
        key = "|".join(str(row[i]) for i in key_at)
        unique.setdefault((key, str(row[hash_at])), row)
    in_batch_duplicates = len(rows) - len(unique)
    keys = sorted({k for k, _ in unique})
    params: dict[str, Any] = {"keys": keys}
    key_sql = "arrayStringConcat([" + ", ".join(f"toString({c})" for c in key_columns) + "], '|')"
    where = f"{key_sql} IN {{keys:Array(String)}}"
    for i, (column, value) in enumerate((scope or {}).items()):
        where += f" AND {column} = {{s{i}:String}}"
        params[f"s{i}"] = value
    with _LOCK:
        existing = {
            (str(k), str(h))
            for k, h in wh.rows(
                f"SELECT DISTINCT {key_sql}, {hash_column} FROM {wh.table(table)} WHERE {where}",
                params,
            )
        }
        fresh = [row for pair, row in unique.items() if pair not in existing]
        wh.insert(table, fresh, columns)
    return len(fresh), in_batch_duplicates + (len(unique) - len(fresh))
