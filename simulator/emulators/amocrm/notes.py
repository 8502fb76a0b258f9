"""Lead notes: call notes (the PBX call id in `params.uniq`) and common text notes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from funnelhouse.simulator.company.calls import FINISH_REASONS
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.amocrm import filters
from funnelhouse.simulator.emulators.amocrm.directory import ACCOUNT_ID
from funnelhouse.simulator.emulators.params import as_list
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.amocrm.router import AmoCrm

ORDER = ("updated_at", "id")
SPEC = defects.RecordSpec(
    id="id",
    created=["created_at"],
    durations=["params.duration"],
    retype={"params.duration": lambda v: str(v)},
)
NONE = pd.DataFrame({"row": [], "id": [], "updated_at": []})  # notes of contacts, companies
CALL_RESULT = {4: "Разговор состоялся", 6: "Не дозвонились", 7: "Занято", 3: "Нет на месте"}
_TEXTS = (
    "Клиент просит перезвонить",
    "Отправил презентацию",
    "Уточнить бюджет",
    "Ждём решения руководства",
)


def view(emu: AmoCrm, live_leads: pd.DataFrame) -> pd.DataFrame:
    """Notes at the clock of the leads in `live_leads` (rows flagged `deleted` are dropped)."""
    nt = emu.c.crm.amo_notes
    rows = emu.world.visible_rows("amo.notes", nt["at"].to_numpy())
    lead = nt["lead"].to_numpy()[rows]
    alive = pd.Series(~live_leads["deleted"].to_numpy(), index=live_leads["row"].to_numpy())
    keep = alive.reindex(lead).fillna(False).to_numpy(dtype=bool)
    rows, lead = rows[keep], lead[keep]
    return pd.DataFrame(
        {
            "row": rows,
            "id": nt["id"].to_numpy()[rows],
            "updated_at": nt["at"].to_numpy()[rows],
            "created_at": nt["at"].to_numpy()[rows],
            "entity_id": emu.c.leads["crm_id"].to_numpy()[lead],
            "note_type": nt["note_type"].to_numpy()[rows],
        }
    )


def filtered(notes: pd.DataFrame, f: Any) -> pd.DataFrame:
    if not isinstance(f, dict):
        return notes
    if f.get("note_type"):
        notes = notes[notes["note_type"].isin(as_list(f["note_type"]))]
    notes = filters.one_of(notes, "id", f.get("id"))
    notes = filters.one_of(notes, "entity_id", f.get("entity_id"))
    return filters.in_range(notes, "updated_at", f.get("updated_at"))


def render(emu: AmoCrm, r: Any) -> dict:
    nt = emu.c.crm.amo_notes
    calls = emu.c.calls
    i = int(r.row)
    lead = int(col(nt, "lead")[i])
    user = int(emu.user_ids[int(col(emu.c.leads, "manager")[lead])])
    rec: dict[str, Any] = {
        "id": int(r.id),
        "entity_id": int(r.entity_id),
        "created_by": user,
        "updated_by": user,
        "created_at": int(r.created_at),
        "updated_at": int(r.updated_at),
        "responsible_user_id": user,
        "group_id": 0,
        "note_type": r.note_type,
    }
    call = int(col(nt, "call")[i])
    if call >= 0:
        answered = bool(col(calls, "answered")[call])
        uis_id = int(col(calls, "uis_id")[call])
        reason = FINISH_REASONS[int(col(calls, "finish_reason")[call])]
        status = 4 if answered else (7 if reason == "subscriber_busy" else 6)
        duration: Any = int(col(calls, "talk")[call])
        if bool(col(nt, "duration_as_text")[i]):
            duration = str(duration)
        caller = int(emu.user_ids[int(col(calls, "manager")[call])])
        rec["created_by"] = rec["updated_by"] = caller
        rec["params"] = {
            "uniq": str(uis_id),
            "duration": duration,
            "source": "uiscom",
            "link": f"https://app.uiscom.ru/system/media/talk/{uis_id}/record.mp3"
            if answered
            else "",
            "phone": f"+{int(col(calls, 'phone')[call])}",
            "call_result": CALL_RESULT[status],
            "call_status": status,
            "call_responsible": caller,
        }
    else:
        rec["params"] = {"text": _TEXTS[i % 4]}
    rec["account_id"] = ACCOUNT_ID
    rec["_links"] = emu.url(f"/api/v4/leads/{int(r.entity_id)}/notes/{int(r.id)}")
    return rec
