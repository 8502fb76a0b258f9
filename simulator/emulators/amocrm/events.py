"""Events: lead_added, lead_status_changed and lead_deleted, with ULID-like ids."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.crm import EV_STATUS
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.amocrm import filters
from funnelhouse.simulator.emulators.amocrm.directory import ACCOUNT_ID, STATUS, status_of
from funnelhouse.simulator.emulators.params import as_list
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.amocrm.router import AmoCrm

ORDER = ("created_at", "id")
# The stage sits inside value_after[0].lead_status, so `render` breaks it itself.
SPEC = defects.RecordSpec(id="id", created=["created_at"])
_ULID = "0123456789abcdefghjkmnpqrstvwxyz"


def event_id(at: int, seq: int) -> str:
    """A ULID-like lowercase string id, as amoCRM's events have (time part + random part)."""
    value = (at * 1000 + seq % 1000) << 80 | int.from_bytes(
        hashlib.blake2b(seq.to_bytes(8, "big"), digest_size=10).digest(), "big"
    )
    return "".join(_ULID[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def view(emu: AmoCrm) -> pd.DataFrame:
    ev = emu.c.crm.amo_events
    rows = emu.world.visible_rows("amo.events", ev["at"].to_numpy())
    lead = ev["lead"].to_numpy()[rows]
    types = np.array(["lead_added", "lead_status_changed", "lead_deleted"])[
        ev["type"].to_numpy()[rows]
    ]
    after = ev["after"].to_numpy()[rows]
    return pd.DataFrame(
        {
            "row": rows,
            "id": ev["seq"].to_numpy()[rows],
            "created_at": ev["at"].to_numpy()[rows],
            "entity_id": emu.c.leads["crm_id"].to_numpy()[lead],
            "type": types,
            "created_by": emu.user_ids[emu.c.leads["manager"].to_numpy()[lead]],
            "after_status": np.where(after >= 0, STATUS[np.maximum(after, 0), 0], -1),
            "after_pipeline": np.where(after >= 0, STATUS[np.maximum(after, 0), 1], -1),
        }
    )


def filtered(events: pd.DataFrame, f: Any) -> pd.DataFrame:
    if not isinstance(f, dict):
        return events
    if f.get("type"):
        events = events[events["type"].isin(as_list(f["type"]))]
    ent = as_list(f.get("entity"))
    if ent and not {"lead", "leads"} & set(ent):
        events = events.iloc[0:0]
    events = filters.one_of(events, "entity_id", f.get("entity_id"))
    events = filters.one_of(events, "created_by", f.get("created_by"))
    events = filters.in_range(events, "created_at", f.get("created_at"))
    va = f.get("value_after")
    if isinstance(va, dict) and va.get("leads_statuses"):
        events = filters.in_statuses(events, va["leads_statuses"], "after_pipeline", "after_status")
    return events


def render(emu: AmoCrm, r: Any) -> dict:
    ev = emu.c.crm.amo_events
    i = int(r.row)
    t = int(col(ev, "type")[i])
    eid = event_id(int(r.created_at), int(r.id))

    def status(code: int) -> list[dict]:
        if code < 0:
            return []
        sid, pid = status_of(code)
        bad = emu.faults.on("unknown_stage_ids")
        if bad is not None and i % int(bad["every"]) == int(bad["every"]) - 1:
            sid = 99_999_999
        return [{"lead_status": {"id": sid, "pipeline_id": pid}}]

    # lead_added and lead_deleted carry no status values in this emulator.
    before = status(int(col(ev, "before")[i])) if t == EV_STATUS else []
    after = status(int(col(ev, "after")[i])) if t == EV_STATUS else []
    return {
        "id": eid,
        "type": r.type,
        "entity_id": int(r.entity_id),
        "entity_type": "lead",
        "created_by": int(r.created_by),
        "created_at": int(r.created_at),
        "value_after": after,
        "value_before": before,
        "account_id": ACCOUNT_ID,
        "_links": emu.url(f"/api/v4/events/{eid}"),
    }
