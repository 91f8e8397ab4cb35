"""The warehouse: ClickHouse access (embedded chDB by default), schema and migrations.

This package is the only code that imports clickhouse_connect.
"""

from warehouse.client import Warehouse, connect, embedded_path, is_embedded, quote_identifier
from warehouse.config import WarehouseSettings
from warehouse.migrate import migrate

__all__ = [
    "Warehouse",
    "WarehouseSettings",
    "connect",
    "embedded_path",
    "is_embedded",
    "migrate",
    "open_warehouse",
    "quote_identifier",
]


def open_warehouse(settings: WarehouseSettings) -> Warehouse:
    """Connect and bring the schema up to date: what every entry point does first."""
    wh = connect(settings)
    try:
        migrate(wh)
    except BaseException:
        wh.close()
        raise
    return wh
