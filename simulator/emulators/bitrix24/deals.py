"""Deals (crm.deal.list, crm.deal.get): live Bitrix24 deals as of the clock, string numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.deals import STAGE_POS
from funnelhouse.simulator.company.directory import PROJECTS, RATINGS, SOURCES
from funnelhouse.simulator.company.marketing import UTM_KEYS
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24.directory import CATEGORIES, SEMANTICS, STAGE_IDS
from funnelhouse.simulator.emulators.bitrix24.errors import ApiError
from funnelhouse.simulator.emulators.bitrix24.listing import Table, coerce
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

TYPES = {
    "ID": "int",
    "CATEGORY_ID": "int",
    "STAGE_ID": "str",
    "STAGE_SEMANTIC_ID": "str",
    "DATE_CREATE": "date",
    "DATE_MODIFY": "date",
    "MOVED_TIME": "date",
    "CLOSED": "str",
    "ASSIGNED_BY_ID": "int",
    "OPPORTUNITY": "float",
    "COMPANY_ID": "int",
    "CONTACT_ID": "int",
    "SOURCE_ID": "str",
    "TYPE_ID": "str",
}
SPEC = defects.RecordSpec(
    id="ID",
    created=["DATE_CREATE"],
    shift=defects.shift_text("iso"),
    stage=["STAGE_ID"],
    unknown_stage="C9:UNKNOWN",
    retype={"OPPORTUNITY": lambda v: float(v) if isinstance(v, str) else v},
)


def view(emu: Bitrix24) -> pd.DataFrame:
    """Visible, undeleted deals, with the `deletions` and `update_while_paging` faults."""

    def build(clock: int) -> pd.DataFrame:
        st = emu.world.leads()
        L = emu.c.leads
        rows = np.flatnonzero(emu.is_b24 & st["visible"].to_numpy() & ~st["deleted"].to_numpy())
        stage = st["stage"].to_numpy()[rows]
        client = L["client"].to_numpy()[rows]
        return pd.DataFrame(
            {
                "row": rows,
                "ID": L["crm_id"].to_numpy()[rows],
                "CATEGORY_ID": CATEGORIES[stage],
                "STAGE_ID": STAGE_IDS[stage],
                "STAGE_SEMANTIC_ID": SEMANTICS[stage],
                "DATE_CREATE": L["created_at"].to_numpy()[rows],
                "DATE_MODIFY": st["updated_at"].to_numpy()[rows],
                "MOVED_TIME": st["moved_at"].to_numpy()[rows],
                "CLOSED": np.where(st["closed"].to_numpy()[rows], "Y", "N"),
                "ASSIGNED_BY_ID": emu.user_ids[L["manager"].to_numpy()[rows]],
                "OPPORTUNITY": st["price"].to_numpy()[rows].astype(float),
                "COMPANY_ID": emu.c.clients["company_id"].to_numpy()[client],
                "CONTACT_ID": emu.c.clients["contact_id"].to_numpy()[client],
                "SOURCE_ID": np.array([s.bitrix_id for s in SOURCES], dtype=object)[
                    L["source"].to_numpy()[rows]
                ],
                "TYPE_ID": "SALE",
                "stage": stage,
            }
        )

    deals = emu.world.cached("b24.deals", build)
    p = emu.faults.on("deletions")
    if p is not None:
        k = int(p["every"])
        deals = deals[deals["row"].to_numpy() % k != k - 1]
    return emu.touch("b24.deals", deals, "DATE_MODIFY")


def render(emu: Bitrix24, r: Any) -> dict[str, Any]:
    L = emu.c.leads
    i = int(r.row)
    client = int(col(L, "client")[i])
    project = PROJECTS[int(col(L, "project")[i])]
    closed = r.CLOSED == "Y"
    uid = str(int(r.ASSIGNED_BY_ID))
    planned = int(r.DATE_CREATE) + 30 * 86_400
    return {
        "ID": str(int(r.ID)),
        "TITLE": f"{project.name}: {col(emu.c.clients, 'name')[client]}",
        "TYPE_ID": "SALE",
        "STAGE_ID": r.STAGE_ID,
        "PROBABILITY": None,
        "CURRENCY_ID": "RUB",
        "OPPORTUNITY": f"{r.OPPORTUNITY:.2f}",
        "IS_MANUAL_OPPORTUNITY": "Y",
        "TAX_VALUE": "0.00",
        "LEAD_ID": None,
        "COMPANY_ID": str(int(r.COMPANY_ID)),
        "CONTACT_ID": str(int(r.CONTACT_ID)),
        "QUOTE_ID": None,
        "BEGINDATE": emu.midnight(int(r.DATE_CREATE)),
        "CLOSEDATE": emu.date(int(r.MOVED_TIME) if closed else planned),
        "ASSIGNED_BY_ID": uid,
        "CREATED_BY_ID": uid,
        "MODIFY_BY_ID": uid,
        "DATE_CREATE": emu.date(r.DATE_CREATE),
        "DATE_MODIFY": emu.date(r.DATE_MODIFY),
        "OPENED": "Y",
        "CLOSED": r.CLOSED,
        "COMMENTS": None,
        "ADDITIONAL_INFO": None,
        "LOCATION_ID": None,
        "CATEGORY_ID": str(int(r.CATEGORY_ID)),
        "STAGE_SEMANTIC_ID": r.STAGE_SEMANTIC_ID,
        "IS_NEW": "Y" if STAGE_POS[int(r.stage)] == 0 else "N",
        "IS_RECURRING": "N",
        "IS_RETURN_CUSTOMER": "Y" if bool(col(L, "repeat")[i]) else "N",
        "IS_REPEATED_APPROACH": "N",
        "SOURCE_ID": r.SOURCE_ID,
        "SOURCE_DESCRIPTION": None,
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": None,
        "MOVED_BY_ID": uid,
        "MOVED_TIME": emu.date(r.MOVED_TIME),
        "LAST_ACTIVITY_TIME": emu.date(r.DATE_MODIFY),
        "LAST_ACTIVITY_BY": uid,
        **{k.upper(): emu.c.utm[k].iat[i] for k in UTM_KEYS},
        "UF_CRM_PROJECT": project.name,
        "UF_CRM_RATING": RATINGS[int(col(L, "rating")[i])],
    }


TABLE = Table(view, TYPES, render, SPEC, uf=("UF_CRM_PROJECT", "UF_CRM_RATING"))


def get(emu: Bitrix24, params: dict) -> dict:
    """crm.deal.get: one live deal by `id`, or 400 'Not found'."""
    deals = view(emu)
    hit = deals[deals["ID"] == coerce(params.get("id", params.get("ID", -1)), "int", emu.tz)]
    if hit.empty:
        raise ApiError(400, "", "Not found")
    return {"result": render(emu, next(hit.itertuples()))}
