"""The account's directories: pipelines and their statuses, loss reasons, users, the account."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.deals import STAGE_INDEX
from funnelhouse.simulator.company.directory import AMOCRM, LOSS_REASONS, PIPELINES
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.amocrm.router import AmoCrm

ACCOUNT_ID = 31_234_567
ADMIN_ID = 5_120_000
_COLORS = (
    "#99ccff",
    "#fffeb2",
    "#ffcc66",
    "#ffce5a",
    "#deff81",
    "#87f2c0",
    "#ccff66",
    "#CCFF66",
    "#D5D8DB",
)


def status_of(stage_code: int) -> tuple[int, int]:
    """(status_id, pipeline_id) of a global stage code."""
    p, s = STAGE_INDEX[stage_code]
    if PIPELINES[p].crm != AMOCRM:
        return -1, -1
    return int(PIPELINES[p].stages[s].id), PIPELINES[p].id


STATUS = np.array([status_of(s) for s in range(len(STAGE_INDEX))])


def pipeline_index(pipeline_id: int) -> int | None:
    """Index in PIPELINES of an amoCRM pipeline id (None if no such pipeline here)."""
    for i, p in enumerate(PIPELINES):
        if p.crm == AMOCRM and p.id == pipeline_id:
            return i
    return None


def amo_pipelines() -> list[int]:
    return [i for i, p in enumerate(PIPELINES) if p.crm == AMOCRM]


def pipeline(emu: AmoCrm, pipe_index: int) -> dict:
    pipe = PIPELINES[pipe_index]
    statuses = []
    for sort, st in enumerate(pipe.stages):
        statuses.append(
            {
                "id": st.id,
                "name": st.name,
                "sort": 10 * (sort + 1) if st.kind != "lost" else 10000,
                "is_editable": st.kind in ("open",),
                "pipeline_id": pipe.id,
                "color": _COLORS[sort % 9],
                "type": 1 if st.kind == "unsorted" else 0,
                "account_id": ACCOUNT_ID,
                "_links": emu.url(f"/api/v4/leads/pipelines/{pipe.id}/statuses/{st.id}"),
            }
        )
    return {
        "id": pipe.id,
        "name": pipe.name,
        "sort": 1 + pipe_index,
        "is_main": pipe.is_main,
        "is_unsorted_on": True,
        "is_archive": False,
        "account_id": ACCOUNT_ID,
        "_links": emu.url(f"/api/v4/leads/pipelines/{pipe.id}"),
        "_embedded": {"statuses": statuses},
    }


def loss_reason_view() -> pd.DataFrame:
    return pd.DataFrame({"row": range(len(LOSS_REASONS)), "id": [r[0] for r in LOSS_REASONS]})


def loss_reason(emu: AmoCrm, reason_id: int | None) -> dict:
    for sort, (rid, name, _) in enumerate(LOSS_REASONS):
        if rid == reason_id:
            start = emu.c.cfg.start_ts - 200 * 86_400
            return {
                "id": rid,
                "name": name,
                "sort": 10 * (sort + 1),
                "created_at": start,
                "updated_at": start,
                "_links": emu.url(f"/api/v4/leads/loss_reasons/{rid}"),
            }
    return {}


def user_view(emu: AmoCrm) -> pd.DataFrame:
    """The admin (row -1) and the managers working in amoCRM."""
    amo = np.flatnonzero(emu.c.managers["crm"].to_numpy() == AMOCRM)
    return pd.DataFrame({"row": np.r_[-1, amo], "id": np.r_[ADMIN_ID, emu.user_ids[amo]]})


def user(emu: AmoCrm, row: int, uid: int) -> dict:
    mgr = emu.c.managers
    if row < 0:
        name, email, admin = "Администратор", "admin@funnelhouse.example", True
    else:
        name = f"{col(mgr, 'first_name')[row]} {col(mgr, 'last_name')[row]}"
        email, admin = f"manager{row + 1}@funnelhouse.example", False
    return {
        "id": uid,
        "name": name,
        "email": email,
        "lang": "ru",
        "rights": {
            "leads": {"view": "A", "edit": "A", "add": "A", "delete": "A"},
            "is_admin": admin,
            "is_free": False,
            "is_active": True,
            "group_id": None,
            "role_id": None,
        },
        "uuid": None,
        "amojo_id": hashlib.md5(str(uid).encode()).hexdigest(),
        "_links": emu.url(f"/api/v4/users/{uid}"),
    }


def account(emu: AmoCrm) -> dict[str, Any]:
    return {
        "id": ACCOUNT_ID,
        "name": "Funnelhouse Demo",
        "subdomain": "funnelhouse-demo",
        "created_at": emu.c.cfg.start_ts - 400 * 86_400,
        "created_by": ADMIN_ID,
        "current_user_id": ADMIN_ID,
        "country": "RU",
        "currency": "RUB",
        "currency_symbol": "₽",
        "is_unsorted_on": True,
        "mobile_feature_version": 0,
        "customers_mode": "disabled",
        "is_loss_reason_enabled": True,
        "is_helpbot_enabled": False,
        "is_technical_account": False,
        "contact_name_display_order": 1,
        "_links": emu.url("/api/v4/account"),
    }
