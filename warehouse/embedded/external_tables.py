"""External tables: data sent with a query and read by it as a temporary table, as on a server.

Each table comes from a multipart file part named after it, with `<name>_format` (default
TabSeparated) and either `<name>_structure` ("id UInt32, s String") or `<name>_types`
("UInt32,String", columns `_1`, `_2`, ...). Those parameters describe the table; they are not
query settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from funnelhouse.warehouse.embedded.engine import ENGINE_ERRORS, engine_error, run
from funnelhouse.warehouse.embedded.errors import ClickHouseError

SUFFIXES = ("_format", "_structure", "_types")


def describing_params(names: Iterable[str]) -> set[str]:
    """The URL/form parameters that describe the external tables `names`."""
    return {name + suffix for name in names for suffix in SUFFIXES}


def structure(name: str, params: Mapping[str, str]) -> str:
    if params.get(name + "_structure"):
        return params[name + "_structure"]
    types = params.get(name + "_types")
    if not types:
        raise ClickHouseError(
            36,
            "BAD_ARGUMENTS",
            f"Neither structure nor types have been provided for external table {name}. "
            f"Use fields {name}_structure or {name}_types to do so.",
        )
    return ", ".join(f"_{i} {t.strip()}" for i, t in enumerate(types.split(","), start=1))


def load(conn: Any, name: str, params: Mapping[str, str], data: bytes) -> str:
    """Create temporary table `name` on `conn` and fill it; returns its quoted name."""
    quoted = "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
    run(conn, f"DROP TEMPORARY TABLE IF EXISTS {quoted}")
    run(conn, f"CREATE TEMPORARY TABLE {quoted} ({structure(name, params)}) ENGINE = Memory")
    fmt = params.get(name + "_format") or "TabSeparated"
    try:
        with conn.send_insert(f"INSERT INTO {quoted}", fmt) as inserter:
            inserter.append(data)
            inserter.finish()
    except ENGINE_ERRORS as exc:
        raise engine_error(exc) from None
    return quoted
