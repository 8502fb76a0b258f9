"""Contacts and companies: one of each per amoCRM client, owned by its first lead's manager."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from funnelhouse.simulator.company.directory import AMOCRM, RATINGS, person_name
from funnelhouse.simulator.emulators.amocrm.directory import ACCOUNT_ID
from funnelhouse.simulator.emulators.amocrm.fields import (
    CF_EMAIL,
    CF_INN,
    CF_PHONE,
    CF_RATING,
    select_field,
)
from funnelhouse.simulator.emulators.world import client_versions, col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.amocrm.router import AmoCrm


def view(emu: AmoCrm, stream: str, id_col: str) -> pd.DataFrame:
    """Clients created by the clock; `id_col` is contact_id or company_id."""
    cl = emu.c.clients

    def build(clock: int) -> pd.DataFrame:
        rows, created, updated = client_versions(emu.c, AMOCRM, clock)
        return pd.DataFrame(
            {
                "row": rows,
                "id": cl[id_col].to_numpy()[rows],
                "created_at": created,
                "updated_at": updated,
                "responsible_user_id": emu.user_ids[emu.client_manager[rows]],
            }
        )

    return emu.world.cached(stream, build)


def _owned(r: Any) -> dict:
    """Owner, times and flags: the fields contacts and companies share, in the API's order."""
    return {
        "responsible_user_id": int(r.responsible_user_id),
        "group_id": 0,
        "created_by": int(r.responsible_user_id),
        "updated_by": int(r.responsible_user_id),
        "created_at": int(r.created_at),
        "updated_at": int(r.updated_at),
        "closest_task_at": None,
        "is_deleted": False,
    }


def _multitext(field_id: int, name: str, code: str, value: str, enum_id: int) -> dict:
    return {
        "field_id": field_id,
        "field_name": name,
        "field_code": code,
        "field_type": "multitext",
        "values": [{"value": value, "enum_id": enum_id, "enum_code": "WORK"}],
    }


def contact(emu: AmoCrm, r: Any) -> dict:
    cl = emu.c.clients
    i = int(r.row)
    first, last = person_name(5000 + i)
    cid = int(col(cl, "company_id")[i])
    phone = f"+{int(col(cl, 'phone')[i])}"
    return {
        "id": int(r.id),
        "name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        **_owned(r),
        "is_unsorted": False,
        "custom_fields_values": [
            _multitext(CF_PHONE, "Телефон", "PHONE", phone, 130_131),
            _multitext(CF_EMAIL, "Email", "EMAIL", f"client{i}@example.ru", 130_143),
        ]
        if i % 23
        else None,
        "account_id": ACCOUNT_ID,
        "_links": emu.url(f"/api/v4/contacts/{int(r.id)}"),
        "_embedded": {
            "tags": [],
            "companies": [{"id": cid, "_links": emu.url(f"/api/v4/companies/{cid}")}],
        },
    }


def company(emu: AmoCrm, r: Any) -> dict:
    cl = emu.c.clients
    i = int(r.row)
    rating = int(col(cl, "rating")[i])
    return {
        "id": int(r.id),
        "name": col(cl, "name")[i],
        **_owned(r),
        "custom_fields_values": [
            {
                "field_id": CF_INN,
                "field_name": "ИНН",
                "field_code": None,
                "field_type": "text",
                "values": [{"value": col(cl, "inn")[i]}],
            },
            select_field(CF_RATING + 100, "Рейтинг", RATINGS[rating], 7000 + rating),
        ],
        "account_id": ACCOUNT_ID,
        "_links": emu.url(f"/api/v4/companies/{int(r.id)}"),
        "_embedded": {"tags": []},
    }
