"""amoCRM `filter[...]` semantics shared by the list endpoints.

`filter[x]=ts` is an exact match and `[from]`/`[to]` are inclusive (UNCONFIRMED in
SOURCE_APIS.md: the docs are silent); id-like filters take one value, a list or a CSV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.emulators.params import as_list


def _range(spec: Any) -> tuple[float, float] | None:
    """`filter[x]=ts` (exact) or `filter[x][from]=..&filter[x][to]=..` (inclusive)."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        lo = float(spec["from"]) if spec.get("from", "") != "" else -np.inf
        hi = float(spec["to"]) if spec.get("to", "") != "" else np.inf
        return lo, hi
    v = float(as_list(spec)[0])
    return v, v


def in_range(view: pd.DataFrame, field: str, spec: Any) -> pd.DataFrame:
    rng = _range(spec)
    if rng is None:
        return view
    col = view[field].to_numpy()
    return view[(col >= rng[0]) & (col <= rng[1])]


def one_of(view: pd.DataFrame, field: str, spec: Any) -> pd.DataFrame:
    values = as_list(spec)
    if not values:
        return view
    return view[view[field].isin([int(v) for v in values])]


def in_statuses(view: pd.DataFrame, spec: Any, pipeline: str, status: str) -> pd.DataFrame:
    """`[n][pipeline_id]=..&[n][status_id]=..` pairs (leads' statuses, events' value_after)."""
    pairs = {
        (int(s.get("pipeline_id", 0)), int(s.get("status_id", 0)))
        for s in as_list(spec)
        if isinstance(s, dict)
    }
    keys = zip(view[pipeline], view[status], strict=True)
    return view[[k in pairs for k in keys]]


def common(view: pd.DataFrame, f: dict) -> pd.DataFrame:
    """The filters of contacts, companies and tasks (the last two only where the column is)."""
    view = one_of(view, "id", f.get("id"))
    view = in_range(view, "updated_at", f.get("updated_at"))
    view = in_range(view, "created_at", f.get("created_at"))
    view = one_of(view, "responsible_user_id", f.get("responsible_user_id"))
    if "is_completed" in f and "is_completed" in view:
        view = view[view["is_completed"] == (str(f["is_completed"]) in ("1", "true"))]
    if "entity_id" in f and "entity_id" in view:
        view = one_of(view, "entity_id", f.get("entity_id"))
    return view
