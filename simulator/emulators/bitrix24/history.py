"""crm.stagehistory.list: deal creations and stage moves, integer ids, `{"items": [...]}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24.directory import CATEGORIES, SEMANTICS, STAGE_IDS
from funnelhouse.simulator.emulators.bitrix24.listing import Table

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

TYPES = {
    "ID": "int",
    "TYPE_ID": "int",
    "OWNER_ID": "int",
    "CREATED_TIME": "date",
    "CATEGORY_ID": "int",
    "STAGE_ID": "str",
    "STAGE_SEMANTIC_ID": "str",
}
SPEC = defects.RecordSpec(
    id="ID",
    created=["CREATED_TIME"],
    shift=defects.shift_text("iso"),
    stage=["STAGE_ID"],
    unknown_stage="C9:UNKNOWN",
)


def view(emu: Bitrix24) -> pd.DataFrame:
    h = emu.c.crm.b24_history

    def build(clock: int) -> pd.DataFrame:
        rows = np.flatnonzero(h["at"].to_numpy() <= clock)
        stage = h["stage"].to_numpy()[rows]
        return pd.DataFrame(
            {
                "row": rows,
                "ID": h["id"].to_numpy()[rows],
                "TYPE_ID": h["type_id"].to_numpy()[rows],
                "OWNER_ID": emu.c.leads["crm_id"].to_numpy()[h["lead"].to_numpy()[rows]],
                "CREATED_TIME": h["at"].to_numpy()[rows],
                "CATEGORY_ID": CATEGORIES[stage],
                "STAGE_ID": STAGE_IDS[stage],
                "STAGE_SEMANTIC_ID": SEMANTICS[stage],
            }
        )

    return emu.world.cached("b24.history", build)


def render(emu: Bitrix24, r: Any) -> dict:
    return {
        "ID": int(r.ID),
        "TYPE_ID": int(r.TYPE_ID),
        "OWNER_ID": int(r.OWNER_ID),
        "CREATED_TIME": emu.date(r.CREATED_TIME),
        "CATEGORY_ID": int(r.CATEGORY_ID),
        "STAGE_SEMANTIC_ID": r.STAGE_SEMANTIC_ID,
        "STAGE_ID": r.STAGE_ID,
    }


TABLE = Table(view, TYPES, render, SPEC, wrap="items")
