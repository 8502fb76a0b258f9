"""Tasks on leads: calls and meetings, completed or not as of the clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.emulators.amocrm.directory import ACCOUNT_ID
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.amocrm.router import AmoCrm


def view(emu: AmoCrm) -> pd.DataFrame:
    tk = emu.c.crm.amo_tasks
    L = emu.c.leads

    def build(clock: int) -> pd.DataFrame:
        rows = np.flatnonzero(tk["at"].to_numpy() <= clock)
        done = tk["done_at"].to_numpy()[rows]
        completed = (done >= 0) & (done <= clock)
        lead = tk["lead"].to_numpy()[rows]
        return pd.DataFrame(
            {
                "row": rows,
                "id": tk["id"].to_numpy()[rows],
                "created_at": tk["at"].to_numpy()[rows],
                "updated_at": np.where(completed, done, tk["at"].to_numpy()[rows]),
                "is_completed": completed,
                "complete_till": tk["till"].to_numpy()[rows],
                "entity_id": L["crm_id"].to_numpy()[lead],
                "responsible_user_id": emu.user_ids[L["manager"].to_numpy()[lead]],
            }
        )

    return emu.world.cached("amo.tasks", build)


def render(emu: AmoCrm, r: Any) -> dict:
    ttype = int(col(emu.c.crm.amo_tasks, "type")[int(r.row)])
    return {
        "id": int(r.id),
        "created_by": int(r.responsible_user_id),
        "updated_by": int(r.responsible_user_id),
        "created_at": int(r.created_at),
        "updated_at": int(r.updated_at),
        "responsible_user_id": int(r.responsible_user_id),
        "group_id": 0,
        "entity_id": int(r.entity_id),
        "entity_type": "leads",
        "is_completed": bool(r.is_completed),
        "task_type_id": ttype,
        "text": "Позвонить клиенту" if ttype == 1 else "Встреча с клиентом",
        "duration": 0 if ttype == 1 else 3600,
        "complete_till": int(r.complete_till),
        "result": {"text": "Выполнено"} if r.is_completed else [],
        "account_id": ACCOUNT_ID,
        "_links": emu.url(f"/api/v4/tasks/{int(r.id)}"),
    }
