"""user.get (the webhook's admin and the managers in Bitrix24) and profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import BITRIX24
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24.listing import Table
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24


def view(emu: Bitrix24) -> pd.DataFrame:
    """The admin (row -1, the webhook's user) and the managers working in Bitrix24."""
    b24 = np.flatnonzero(emu.c.managers["crm"].to_numpy() == BITRIX24)
    return pd.DataFrame(
        {
            "row": np.r_[-1, b24],
            "ID": np.r_[emu.user_id, emu.user_ids[b24]],
            "ACTIVE": "Y",
        }
    )


def render(emu: Bitrix24, r: Any) -> dict:
    mgr = emu.c.managers
    row = int(r.row)
    first, last = (
        ("Администратор", "")
        if row < 0
        else (col(mgr, "first_name")[row], col(mgr, "last_name")[row])
    )
    return {
        "ID": str(int(r.ID)),
        "XML_ID": None,
        "ACTIVE": True,
        "NAME": first,
        "LAST_NAME": last,
        "SECOND_NAME": "",
        "EMAIL": f"user{int(r.ID)}@funnelhouse.example",
        "LAST_LOGIN": None,
        "DATE_REGISTER": emu.date(emu.c.cfg.start_ts - 300 * 86_400),
        "IS_ONLINE": "N",
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": "0",
        "TIMESTAMP_X": None,
        "PERSONAL_GENDER": "",
        "WORK_POSITION": "Менеджер" if row >= 0 else "",
        "UF_DEPARTMENT": [1 if row < 0 else 3],
        "USER_TYPE": "employee",
    }


TABLE = Table(view, {"ID": "int", "ACTIVE": "str"}, render, defects.RecordSpec(id="ID"))


def profile(emu: Bitrix24, params: dict) -> dict[str, Any]:
    return {
        "result": {
            "ID": str(emu.user_id),
            "ADMIN": True,
            "NAME": "Администратор",
            "LAST_NAME": "",
        }
    }
