"""Leads: the amoCRM deals as of the clock (live or deleted), their filters and records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.deals import STAGE_KIND
from funnelhouse.simulator.company.directory import PROJECTS, RATINGS, SOURCES
from funnelhouse.simulator.company.marketing import UTM_KEYS
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.amocrm import catalogs, filters
from funnelhouse.simulator.emulators.amocrm.directory import ACCOUNT_ID, STATUS, loss_reason
from funnelhouse.simulator.emulators.amocrm.fields import (
    CF_PROJECT,
    CF_RATING,
    CF_SOURCE,
    select_field,
    tracking_field,
)
from funnelhouse.simulator.emulators.params import as_list
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.amocrm.router import AmoCrm

ORDER = ("created_at", "updated_at", "id")
SPEC = defects.RecordSpec(
    id="id",
    created=["created_at"],
    stage=["status_id"],
    retype={"price": lambda v: str(v) if isinstance(v, int) else v},
)


def view(emu: AmoCrm) -> pd.DataFrame:
    """Every visible amoCRM lead, with the `deletions` fault applied."""

    def build(clock: int) -> pd.DataFrame:
        st = emu.world.leads()
        L = emu.c.leads
        rows = np.flatnonzero(emu.is_amo & st["visible"].to_numpy())
        stage = st["stage"].to_numpy()[rows]
        return pd.DataFrame(
            {
                "row": rows,
                "id": L["crm_id"].to_numpy()[rows],
                "created_at": L["created_at"].to_numpy()[rows],
                "updated_at": st["updated_at"].to_numpy()[rows],
                "status_id": STATUS[stage, 0],
                "pipeline_id": STATUS[stage, 1],
                "responsible_user_id": emu.user_ids[L["manager"].to_numpy()[rows]],
                "deleted": st["deleted"].to_numpy()[rows],
                "closed_at": np.where(
                    st["closed"].to_numpy()[rows], st["moved_at"].to_numpy()[rows], -1
                ),
                "price": st["price"].to_numpy()[rows],
            }
        )

    leads = emu.world.cached("amo.leads", build)
    p = emu.faults.on("deletions")
    if p is not None:
        k = int(p["every"])
        hit = (leads["row"].to_numpy() % k == k - 1) & ~leads["deleted"].to_numpy()
        if hit.any():
            leads = leads.copy()
            leads.loc[hit, "deleted"] = True
            leads.loc[hit, "updated_at"] = emu.world.clock
    return leads


def filtered(leads: pd.DataFrame, f: Any) -> pd.DataFrame:
    if not isinstance(f, dict):
        return leads
    leads = filters.one_of(leads, "id", f.get("id"))
    leads = filters.in_range(leads, "updated_at", f.get("updated_at"))
    leads = filters.in_range(leads, "created_at", f.get("created_at"))
    leads = filters.in_range(leads, "closed_at", f.get("closed_at"))
    leads = filters.one_of(leads, "pipeline_id", f.get("pipeline_id"))
    leads = filters.one_of(leads, "responsible_user_id", f.get("responsible_user_id"))
    if f.get("statuses"):
        leads = filters.in_statuses(leads, f["statuses"], "pipeline_id", "status_id")
    return leads


def render(emu: AmoCrm, r: Any, with_: set[str]) -> dict:
    L = emu.c.leads
    i = int(r.row)
    client = int(col(L, "client")[i])
    cl = emu.c.clients
    project = PROJECTS[int(col(L, "project")[i])]
    source = SOURCES[int(col(L, "source")[i])]
    unsorted = STAGE_KIND[emu.world.leads()["stage"].iat[i]] == "unsorted"
    creator = (
        0 if unsorted or (source.kind != "cold" and i % 3 == 0) else int(r.responsible_user_id)
    )
    closed = int(r.closed_at) if r.closed_at >= 0 else None
    lost = r.status_id == 143
    reason = int(col(L, "loss_reason")[i]) if lost and col(L, "loss_reason")[i] >= 0 else None
    rec: dict[str, Any] = {
        "id": int(r.id),
        "name": f"{project.name}: {col(cl, 'name')[client]}",
        "price": int(r.price),
        "responsible_user_id": int(r.responsible_user_id),
        "group_id": 0,
        "status_id": int(r.status_id),
        "pipeline_id": int(r.pipeline_id),
        "loss_reason_id": reason,
        "created_by": creator,
        "updated_by": int(r.responsible_user_id),
        "created_at": int(r.created_at),
        "updated_at": int(r.updated_at),
        "closed_at": closed,
        "closest_task_at": None,
        "is_deleted": bool(r.deleted),
        "custom_fields_values": [
            select_field(CF_SOURCE, "Источник", source.name, source.amo_enum),
            select_field(CF_PROJECT, "Проект", project.name, 5000 + PROJECTS.index(project)),
            select_field(
                CF_RATING,
                "Рейтинг клиента",
                RATINGS[int(col(L, "rating")[i])],
                6000 + int(col(L, "rating")[i]),
            ),
            *[
                tracking_field(k, emu.c.utm[k].iat[i])
                for k in UTM_KEYS
                if emu.c.utm[k].iat[i] is not None
            ],
        ],
        "score": None,
        "account_id": ACCOUNT_ID,
        "labor_cost": None,
        "_links": emu.url(f"/api/v4/leads/{int(r.id)}"),
    }
    if "source_id" in with_:
        rec["source_id"] = 100 + SOURCES.index(source) if source.kind == "hot" else None
    if "is_price_modified_by_robot" in with_:
        rec["is_price_modified_by_robot"] = False
    emb: dict[str, Any] = {
        "tags": [],
        "companies": [
            {
                "id": int(col(cl, "company_id")[client]),
                "_links": emu.url(f"/api/v4/companies/{int(col(cl, 'company_id')[client])}"),
            }
        ],
    }
    if "contacts" in with_:
        cid = int(col(cl, "contact_id")[client])
        emb["contacts"] = [
            {"id": cid, "is_main": True, "_links": emu.url(f"/api/v4/contacts/{cid}")}
        ]
    if "loss_reason" in with_:
        emb["loss_reason"] = [loss_reason(emu, reason)] if reason else []
    if "catalog_elements" in with_:
        emb["catalog_elements"] = catalogs.embedded(emu, i)
    rec["_embedded"] = emb
    return rec


def with_of(params: dict) -> set[str]:
    """The `with=` extras asked for."""
    return set(as_list(params.get("with", "")))
