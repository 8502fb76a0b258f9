"""crm.activity.list: call activities bound to deals (ORIGIN_ID ties them to the PBX call)
and meetings."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24.listing import Table
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

TYPES = {
    "ID": "int",
    "OWNER_TYPE_ID": "int",
    "OWNER_ID": "int",
    "TYPE_ID": "int",
    "CREATED": "date",
    "LAST_UPDATED": "date",
    "START_TIME": "date",
    "END_TIME": "date",
    "COMPLETED": "str",
    "RESPONSIBLE_ID": "int",
}
SPEC = defects.RecordSpec(id="ID", created=["CREATED"], shift=defects.shift_text("iso"))


def view(emu: Bitrix24) -> pd.DataFrame:
    acts = emu.c.crm.b24_activities

    def build(clock: int) -> pd.DataFrame:
        rows = np.flatnonzero(acts["at"].to_numpy() <= clock)
        lead = acts["lead"].to_numpy()[rows]
        end = acts["end"].to_numpy()[rows]
        at = acts["at"].to_numpy()[rows]
        done = end <= clock
        return pd.DataFrame(
            {
                "row": rows,
                "ID": acts["id"].to_numpy()[rows],
                "OWNER_TYPE_ID": 2,
                "OWNER_ID": emu.c.leads["crm_id"].to_numpy()[lead],
                "TYPE_ID": acts["type_id"].to_numpy()[rows],
                "CREATED": np.maximum(at, np.where(acts["type_id"].to_numpy()[rows] == 2, end, at)),
                "LAST_UPDATED": np.where(done, np.maximum(end, at), at),
                "START_TIME": at,
                "END_TIME": end,
                "COMPLETED": np.where(done, "Y", "N"),
                "RESPONSIBLE_ID": emu.user_ids[emu.c.leads["manager"].to_numpy()[lead]],
            }
        )

    return emu.touch("b24.activities", emu.world.cached("b24.activities", build), "LAST_UPDATED")


def render(emu: Bitrix24, r: Any) -> dict:
    acts = emu.c.crm.b24_activities
    calls = emu.c.calls
    i = int(r.row)
    call = int(col(acts, "call")[i])
    is_call = call >= 0
    inbound = is_call and bool(col(calls, "inbound")[call])
    phone = f"+{int(col(calls, 'phone')[call])}" if is_call else ""
    lead = int(col(acts, "lead")[i])
    contact = int(col(emu.c.clients, "contact_id")[int(col(emu.c.leads, "client")[lead])])
    uid = str(int(r.RESPONSIBLE_ID))
    origin = None
    if is_call:
        uis_id = int(col(calls, "uis_id")[call])
        digest = hashlib.md5(str(uis_id).encode()).hexdigest()
        origin = f"VI_externalCall.{digest}.{int(col(calls, 'start')[call])}"
    return {
        "ID": str(int(r.ID)),
        "OWNER_ID": str(int(r.OWNER_ID)),
        "OWNER_TYPE_ID": "2",
        "TYPE_ID": str(int(r.TYPE_ID)),
        "PROVIDER_ID": "VOXIMPLANT_CALL" if is_call else "CRM_MEETING",
        "PROVIDER_TYPE_ID": "CALL" if is_call else "MEETING",
        "PROVIDER_GROUP_ID": None,
        "ASSOCIATED_ENTITY_ID": "0",
        "CALENDAR_EVENT_ID": None,
        "SUBJECT": (("Входящий" if inbound else "Исходящий") + f" звонок {phone}")
        if is_call
        else "Встреча с клиентом",
        "CREATED": emu.date(r.CREATED),
        "LAST_UPDATED": emu.date(r.LAST_UPDATED),
        "START_TIME": emu.date(r.START_TIME),
        "END_TIME": emu.date(r.END_TIME),
        "DEADLINE": emu.date(r.END_TIME),
        "COMPLETED": r.COMPLETED,
        "STATUS": "2" if r.COMPLETED == "Y" else "1",
        "RESPONSIBLE_ID": uid,
        "PRIORITY": "2",
        "NOTIFY_TYPE": "0",
        "NOTIFY_VALUE": "0",
        "DESCRIPTION": "",
        "DESCRIPTION_TYPE": "1",
        "DIRECTION": ("1" if inbound else "2") if is_call else "0",
        "LOCATION": "",
        "SETTINGS": [],
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": origin,
        "AUTHOR_ID": uid,
        "EDITOR_ID": uid,
        "COMMUNICATIONS": [
            {
                "ID": str(i + 1),
                "TYPE": "PHONE" if is_call else "",
                "VALUE": phone,
                "ENTITY_ID": str(contact),
                "ENTITY_TYPE_ID": "3",
            }
        ],
    }


TABLE = Table(view, TYPES, render, SPEC)
