"""External tables: data sent with a query and read by it as a temporary table, as on a server.

Each table comes from a multipart file part named after it, with `<name>_format` (default
TabSeparated) and either `<name>_structure` ("id UInt32, s String") or `<name>_types`
("UInt32,String", columns `_1`, `_2`, ...). Those parameters describe the table; they are not
query settings.

All of it comes from the client and none of it passes the access policy, so none of it reaches
SQL text as sent: the name and the format must be identifiers, each column type is parsed by
the engine (as a type, never as SQL) and written back as the engine spells it, and the data
is read as data (a `Values` expression is refused, not evaluated).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from funnelhouse.warehouse.embedded.engine import ENGINE_ERRORS, engine_error, run
from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.query_policy import LITERAL_VALUES, backquote
from funnelhouse.warehouse.embedded.sql_text import text_param, tokens

SUFFIXES = ("_format", "_structure", "_types")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FORMAT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_LITERAL_DATA = "SETTINGS " + ", ".join(f"{k} = {v}" for k, v in LITERAL_VALUES.items())


def describing_params(names: Iterable[str]) -> set[str]:
    """The URL/form parameters that describe the external tables `names`."""
    return {name + suffix for name in names for suffix in SUFFIXES}


def _bad(message: str) -> ClickHouseError:
    return ClickHouseError(36, "BAD_ARGUMENTS", message)


def check_name(name: str) -> None:
    """An external table is read by its bare name, which the policy lets any user read."""
    if not _IDENTIFIER.match(name):
        raise _bad(
            f"External table name '{name[:100]}' must be an identifier (letters, digits, "
            "underscores): it is read as a temporary table of that name"
        )


def _columns(name: str, params: Mapping[str, str]) -> list[tuple[str, str]]:
    """(column, type as sent) pairs from `<name>_structure` or `<name>_types`."""
    if params.get(name + "_structure"):
        text = params[name + "_structure"].encode("utf-8", "surrogateescape")
        pieces, start = [], 0
        for tok in tokens(text):
            if tok.kind == "punct" and tok.text == b"," and tok.depth == 0:
                pieces.append(text[start : tok.start])
                start = tok.end
        pieces.append(text[start:])
        columns = []
        for piece in pieces:
            first = next(tokens(piece), None)
            if first is None or first.kind not in ("word", "quoted"):
                raise _bad(f"{name}_structure: expected `column Type, ...`, got '{piece[:100]!r}'")
            column = first.text[1:-1] if first.kind == "quoted" else first.text
            columns.append((column.decode("utf-8", "replace"), piece[first.end :].decode()))
        return columns
    types = params.get(name + "_types")
    if not types:
        raise _bad(
            f"Neither structure nor types have been provided for external table {name}. "
            f"Use fields {name}_structure or {name}_types to do so."
        )
    return [(f"_{i}", t) for i, t in enumerate(types.split(","), start=1)]


def _type(conn: Any, text: str) -> str:
    """The type as the engine spells it; the engine's parser refuses anything but a type."""
    result = run(
        conn,
        "SELECT toTypeName(defaultValueOfTypeName({t:String}))",
        "TSVRaw",
        {"t": text_param(text.strip())},
    )
    return result.bytes().decode().strip()


def structure(conn: Any, name: str, params: Mapping[str, str]) -> str:
    """The columns of external table `name`, quoted and typed as the engine spells them."""
    return ", ".join(f"{backquote(c)} {_type(conn, t)}" for c, t in _columns(name, params))


def load(conn: Any, name: str, params: Mapping[str, str], data: bytes) -> str:
    """Create temporary table `name` on `conn` and fill it; returns its quoted name."""
    check_name(name)
    fmt = params.get(name + "_format") or "TabSeparated"
    if not _FORMAT.match(fmt):
        raise ClickHouseError(73, "UNKNOWN_FORMAT", f"Unknown input format {fmt[:100]}")
    quoted = f"`{name}`"
    columns = structure(conn, name, params)
    run(conn, f"DROP TEMPORARY TABLE IF EXISTS {quoted}")
    run(conn, f"CREATE TEMPORARY TABLE {quoted} ({columns}) ENGINE = Memory")
    try:
        with conn.send_insert(f"INSERT INTO {quoted} {_LITERAL_DATA}", fmt) as inserter:
            inserter.append(data)
            inserter.finish()
    except ENGINE_ERRORS as exc:
        raise engine_error(exc) from None
    return quoted
