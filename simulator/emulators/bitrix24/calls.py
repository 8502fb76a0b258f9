"""voximplant.statistic.get: external (UIS) calls, the PBX id in EXTERNAL_CALL_ID."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.calls import FINISH_REASONS
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24.listing import Table
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

TYPES = {
    "ID": "int",
    "CALL_START_DATE": "date",
    "CALL_TYPE": "int",
    "PORTAL_USER_ID": "int",
    "CALL_DURATION": "int",
    "PHONE_NUMBER": "str",
    "CRM_ACTIVITY_ID": "int",
}
SPEC = defects.RecordSpec(
    id="ID",
    created=["CALL_START_DATE"],
    shift=defects.shift_text("iso"),
    durations=["CALL_DURATION"],
    negate=lambda v: f"-{int(v) + 1}" if isinstance(v, str) else v,
)
_FAILED = {"200": "", "304": "Missed call", "486": "Busy", "603": "Call declined"}


def view(emu: Bitrix24) -> pd.DataFrame:
    """Calls that reached the portal, once finished by the clock."""
    vox = emu.c.crm.b24_calls
    calls = emu.c.calls

    def build(clock: int) -> pd.DataFrame:
        call = vox["call"].to_numpy()
        finish = (calls["start"] + calls["wait"] + calls["talk"]).to_numpy()[call]
        rows = np.flatnonzero(finish <= clock)
        c = call[rows]
        return pd.DataFrame(
            {
                "row": rows,
                "ID": vox["id"].to_numpy()[rows],
                "CALL_START_DATE": calls["start"].to_numpy()[c],
                "CALL_TYPE": np.where(calls["inbound"].to_numpy()[c], 2, 1),
                "PORTAL_USER_ID": emu.user_ids[calls["manager"].to_numpy()[c]],
                "CALL_DURATION": calls["talk"].to_numpy()[c],
                "PHONE_NUMBER": calls["phone"].to_numpy()[c].astype(str),
                "CRM_ACTIVITY_ID": vox["activity"].to_numpy()[rows],
            }
        )

    return emu.world.cached("b24.calls", build)


def render(emu: Bitrix24, r: Any) -> dict:
    calls = emu.c.calls
    i = int(r.row)
    c = int(col(emu.c.crm.b24_calls, "call")[i])
    start = int(r.CALL_START_DATE)
    uis_id = int(col(calls, "uis_id")[c])
    answered = bool(col(calls, "answered")[c])
    reason = FINISH_REASONS[int(col(calls, "finish_reason")[c])]
    inbound = bool(col(calls, "inbound")[c])
    code = (
        "200"
        if answered
        else ("304" if inbound else ("486" if reason == "subscriber_busy" else "603"))
    )
    activity = int(r.CRM_ACTIVITY_ID)
    lead = int(col(calls, "lead")[c])
    contact = (
        str(int(col(emu.c.clients, "contact_id")[int(col(emu.c.leads, "client")[lead])]))
        if activity > 0 and lead >= 0
        else ""
    )
    digest = hashlib.md5(str(uis_id).encode()).hexdigest()
    return {
        "ID": str(int(r.ID)),
        "CALL_ID": f"externalCall.{digest}.{start}",
        "EXTERNAL_CALL_ID": str(uis_id),
        "CALL_CATEGORY": "external",
        "PORTAL_USER_ID": str(int(r.PORTAL_USER_ID)),
        "PORTAL_NUMBER": "uis",
        "PHONE_NUMBER": r.PHONE_NUMBER,
        "CALL_DURATION": str(int(r.CALL_DURATION)),
        "CALL_START_DATE": emu.date(start),
        "CALL_RECORD_URL": f"https://app.uiscom.ru/system/media/talk/{uis_id}/record.mp3"
        if answered
        else "",
        "CALL_VOTE": None,
        "COST": "0.0000",
        "COST_CURRENCY": "",
        "CALL_FAILED_CODE": code,
        "CALL_FAILED_REASON": _FAILED[code],
        "CRM_ENTITY_TYPE": "CONTACT" if contact else "",
        "CRM_ENTITY_ID": contact,
        "CRM_ACTIVITY_ID": str(activity) if activity > 0 else None,
        "REST_APP_ID": "3",
        "REST_APP_NAME": "UIS",
        "TRANSCRIPT_ID": None,
        "TRANSCRIPT_PENDING": "N",
        "SESSION_ID": None,
        "REDIAL_ATTEMPT": None,
        "COMMENT": None,
        "RECORD_DURATION": str(int(r.CALL_DURATION)) if answered else None,
        "RECORD_FILE_ID": 9000 + int(r.ID) if answered else None,
        "CALL_TYPE": str(int(r.CALL_TYPE)),
    }


TABLE = Table(view, TYPES, render, SPEC)
