"""Contacts, companies and their requisites (INN, KPP): one of each per Bitrix24 client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from funnelhouse.simulator.company.directory import BITRIX24, RATINGS, person_name
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24.listing import Table
from funnelhouse.simulator.emulators.world import client_versions, col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

_CREATED = defects.RecordSpec(id="ID", created=["DATE_CREATE"], shift=defects.shift_text("iso"))


def _view(emu: Bitrix24, name: str) -> pd.DataFrame:
    """Clients created by the clock, keyed by contact_id (`contacts`) or company_id."""
    cl = emu.c.clients

    def build(clock: int) -> pd.DataFrame:
        rows, created, updated = client_versions(emu.c, BITRIX24, clock)
        return pd.DataFrame(
            {
                "row": rows,
                "ID": cl["contact_id" if name == "contacts" else "company_id"].to_numpy()[rows],
                "DATE_CREATE": created,
                "DATE_MODIFY": updated,
                "ASSIGNED_BY_ID": emu.user_ids[emu.client_manager[rows]],
                "COMPANY_ID": cl["company_id"].to_numpy()[rows],
            }
        )

    return emu.world.cached(f"b24.{name}", build)


def contact(emu: Bitrix24, r: Any) -> dict:
    i = int(r.row)
    first, last = person_name(5000 + i)
    return {
        "ID": str(int(r.ID)),
        "NAME": first,
        "LAST_NAME": last,
        "SECOND_NAME": None,
        "TYPE_ID": "CLIENT",
        "SOURCE_ID": None,
        "COMPANY_ID": str(int(r.COMPANY_ID)),
        "ASSIGNED_BY_ID": str(int(r.ASSIGNED_BY_ID)),
        "DATE_CREATE": emu.date(r.DATE_CREATE),
        "DATE_MODIFY": emu.date(r.DATE_MODIFY),
        "HAS_PHONE": "Y",
        "HAS_EMAIL": "N",
        "OPENED": "Y",
        "EXPORT": "Y",
        "PHONE": [
            {
                "ID": str(100 + i),
                "VALUE_TYPE": "WORK",
                "VALUE": f"+{int(col(emu.c.clients, 'phone')[i])}",
                "TYPE_ID": "PHONE",
            }
        ],
    }


def company(emu: Bitrix24, r: Any) -> dict:
    cl = emu.c.clients
    i = int(r.row)
    return {
        "ID": str(int(r.ID)),
        "TITLE": col(cl, "name")[i],
        "COMPANY_TYPE": "CUSTOMER",
        "INDUSTRY": "OTHER",
        "ASSIGNED_BY_ID": str(int(r.ASSIGNED_BY_ID)),
        "DATE_CREATE": emu.date(r.DATE_CREATE),
        "DATE_MODIFY": emu.date(r.DATE_MODIFY),
        "OPENED": "Y",
        "UF_CRM_RATING": RATINGS[int(col(cl, "rating")[i])],
    }


def requisite_view(emu: Bitrix24) -> pd.DataFrame:
    """One requisite per company, with the company's id as its own."""
    v = _view(emu, "companies").copy()
    v["ENTITY_ID"] = v["ID"]
    v["ENTITY_TYPE_ID"] = 4
    return v


def requisite(emu: Bitrix24, r: Any) -> dict:
    cl = emu.c.clients
    i = int(r.row)
    individual = bool(col(cl, "individual")[i])
    return {
        "ID": str(int(r.ID)),
        "ENTITY_TYPE_ID": "4",
        "ENTITY_ID": str(int(r.ID)),
        "PRESET_ID": "2" if individual else "1",
        "NAME": "Реквизиты",
        "ACTIVE": "Y",
        "DATE_CREATE": emu.date(r.DATE_CREATE),
        "RQ_COMPANY_NAME": col(cl, "name")[i],
        "RQ_INN": col(cl, "inn")[i],
        "RQ_KPP": None if individual else f"{col(cl, 'inn')[i][:4]}01001",
    }


_DATED = {"ID": "int", "DATE_CREATE": "date", "DATE_MODIFY": "date", "ASSIGNED_BY_ID": "int"}
CONTACTS = Table(
    lambda emu: _view(emu, "contacts"), {**_DATED, "COMPANY_ID": "int"}, contact, _CREATED
)
COMPANIES = Table(
    lambda emu: _view(emu, "companies"), _DATED, company, _CREATED, uf=("UF_CRM_RATING",)
)
REQUISITES = Table(
    requisite_view,
    {"ID": "int", "ENTITY_ID": "int", "ENTITY_TYPE_ID": "int", "DATE_CREATE": "date"},
    requisite,
    defects.RecordSpec(id="ID"),
)
