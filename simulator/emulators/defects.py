"""Record-level faults: data defects for the quality gate and schema drift.

Each stream declares where its id, creation time, durations and stage live; a defect hits
every k-th record by the record's own row number, so the same record is broken in every
request and in every export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from funnelhouse.simulator.emulators.faults import FaultSet
from funnelhouse.simulator.emulators.world import World

YEAR = 365 * 86_400


def shift_unix(v: Any) -> Any:
    return v + YEAR if isinstance(v, int) else v


def shift_text(fmt: str) -> Callable[[Any], Any]:
    def shift(v: Any) -> Any:
        if not isinstance(v, str) or not v or v.startswith("0001-"):
            return v
        if fmt == "iso":
            return (datetime.fromisoformat(v) + timedelta(days=365)).isoformat()
        return (datetime.strptime(v, fmt) + timedelta(days=365)).strftime(fmt)

    return shift


def _get(rec: dict, path: str) -> tuple[dict | None, str]:
    node: Any = rec
    *head, last = path.split(".")
    for part in head:
        node = node.get(part) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), last


@dataclass
class RecordSpec:
    id: str
    created: list[str] = field(default_factory=list)
    shift: Callable[[Any], Any] = shift_unix
    durations: list[str] = field(default_factory=list)
    negate: Callable[[Any], Any] = lambda v: -abs(v) - 1 if isinstance(v, int) else v
    stage: list[str] = field(default_factory=list)
    unknown_stage: Any = 99_999_999
    retype: dict[str, Callable[[Any], Any]] = field(default_factory=dict)


def apply(records: list[dict], rows: list[int], faults: FaultSet, spec: RecordSpec) -> list[dict]:
    """Mutates and returns `records` (fresh dicts built for this response)."""
    if not faults.active:
        return records

    def hit(name: str, row: int) -> bool:
        p = faults.on(name)
        return (
            p is not None and row % max(1, int(p.get("every", 50))) == int(p.get("every", 50)) - 1
        )

    new = faults.on("new_field")
    for i, (rec, row) in enumerate(zip(records, rows, strict=True)):
        if hit("duplicate_ids", row) and i > 0:
            rec[spec.id] = records[i - 1][spec.id]
        if hit("null_ids", row):
            rec[spec.id] = None
        if hit("future_dates", row):
            for path in spec.created:
                node, key = _get(rec, path)
                if node is not None and key in node:
                    node[key] = spec.shift(node[key])
        if hit("negative_durations", row):
            for path in spec.durations:
                node, key = _get(rec, path)
                if node is not None and key in node:
                    node[key] = spec.negate(node[key])
        if hit("unknown_stage_ids", row):
            for path in spec.stage:
                node, key = _get(rec, path)
                if node is not None and key in node:
                    node[key] = spec.unknown_stage
        if faults.on("retyped_field") is not None:
            for path, fn in spec.retype.items():
                node, key = _get(rec, path)
                if node is not None and key in node:
                    node[key] = fn(node[key])
        if new is not None:
            rec[str(new.get("name", "x_new_field"))] = f"value-{row % 7}"
    return records


def resave_while_paging(
    world: World,
    faults: FaultSet,
    requests: dict[str, int],
    stream: str,
    view: pd.DataFrame,
    field: str,
    id_col: str,
) -> pd.DataFrame:
    """The update_while_paging fault: re-save the oldest records on every later request.

    `requests` counts this emulator's list requests per stream; re-saved rows (kept in the
    world until the clock moves) show the time of their re-save in `field`."""
    p = faults.on("update_while_paging")
    touched = world.touched.get(stream, {})
    if p is not None:
        n = requests.get(stream, 0)
        requests[stream] = n + 1
        if n > 0:
            fresh = view[~view["row"].isin(list(touched))]
            oldest = fresh.sort_values([field, id_col], kind="stable").head(int(p["count"]))
            world.touch(stream, oldest["row"].tolist())
            touched = world.touched.get(stream, {})
    if touched:
        view = view.copy()
        hit = view["row"].isin(list(touched)).to_numpy()
        view.loc[hit, field] = [touched[r] for r in view.loc[hit, "row"]]
    return view
