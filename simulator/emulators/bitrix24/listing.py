"""Bitrix24 list methods: a Table per method and its `filter` operators, `order` and `select`.

Unknown filter and order fields are ignored, as on the real portal; `select` drops user
fields (UF_*) and multi-fields (PHONE, COMMUNICATIONS) unless asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.params import as_list
from funnelhouse.simulator.emulators.timefmt import parse_local

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

_OPS = (">=", "<=", "!=", "!@", "=%", "%=", "><", ">", "<", "=", "!", "@", "%")
_MULTI = ("COMMUNICATIONS", "PHONE")


@dataclass
class Table:
    """A list method: its rows as of the clock with typed columns, and how to render one."""

    view: Callable[[Bitrix24], pd.DataFrame]
    types: dict[str, str]  # column -> int | str | date | float
    render: Callable[[Bitrix24, Any], dict[str, Any]]
    spec: defects.RecordSpec
    wrap: str | None = None  # crm.stagehistory.list: result {"items": [...]}
    uf: tuple[str, ...] = ()


def coerce(value: Any, kind: str, tz: str) -> Any:
    """A filter value as the column's type (dates in the portal's zone if no offset)."""
    if kind == "int":
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return -(10**12)
    if kind == "float":
        return float(value)
    if kind == "date":
        return parse_local(str(value), tz)
    return str(value)


def filtered(view: pd.DataFrame, flt: dict, types: dict[str, str], tz: str) -> pd.DataFrame:
    for raw_key, value in flt.items():
        op = next((o for o in _OPS if raw_key.startswith(o)), "")
        field = raw_key[len(op) :]
        if field not in types or field not in view:
            continue  # real Bitrix24 ignores unknown filter fields
        kind = types[field]
        col = view[field].to_numpy()
        values = (
            [coerce(v, kind, tz) for v in as_list(value)]
            if op in ("@", "!@", "><") or isinstance(value, list)
            else [coerce(value, kind, tz)]
        )
        if op in ("@", ""):
            mask = np.isin(col, values) if op == "@" or len(values) > 1 else col == values[0]
        elif op in ("!@", "!", "!="):
            mask = ~np.isin(col, values)
        elif op == "><" and len(values) >= 2:
            mask = (col >= values[0]) & (col <= values[1])
        elif op in ("%", "=%", "%="):
            needle = str(values[0]).lower()
            mask = np.array([needle in str(x).lower() for x in col], dtype=bool)
        elif op == "=":
            mask = col == values[0]
        else:
            v = values[0]
            mask = {">": col > v, ">=": col >= v, "<": col < v, "<=": col <= v}[op]
        view = view[mask]
    return view


def ordered(view: pd.DataFrame, params: dict, upper: bool, types: dict[str, str]) -> pd.DataFrame:
    """`order` ({field: dir}) or, for the upper-case methods, `SORT` and `ORDER`; then ID."""
    if upper:
        sort = params.get("SORT") or params.get("sort")
        direction = str(params.get("ORDER") or params.get("order") or "ASC")
        order = {str(sort): direction} if sort else {}
    else:
        order = params.get("order") or {}
    cols, asc = [], []
    if isinstance(order, dict):
        for k, v in order.items():
            if k in view and k in types:
                cols.append(k)
                asc.append(str(v).upper() != "DESC")
    if "ID" not in cols:
        cols.append("ID")
        asc.append(True)
    return view.sort_values(cols, ascending=asc, kind="stable")


def selected(rec: dict, select: Any, uf: tuple[str, ...]) -> dict:
    fields = as_list(select)
    if not fields:
        return {k: v for k, v in rec.items() if k not in uf and k not in _MULTI}
    keep = set(fields)
    out = {}
    for k, v in rec.items():
        standard = k not in uf and k not in _MULTI
        if k in keep or (standard and "*" in keep) or (k in uf and "UF_*" in keep) or k in ("ID",):
            out[k] = v
    return out
