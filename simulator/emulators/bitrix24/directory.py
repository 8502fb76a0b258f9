"""The portal's directories: stage ids per global stage, crm.status.list, crm.category.list."""

from __future__ import annotations

import numpy as np

from funnelhouse.simulator.company.deals import STAGE_INDEX, STAGE_KIND
from funnelhouse.simulator.company.directory import BITRIX24, PIPELINES, SOURCES
from funnelhouse.simulator.emulators.bitrix24.errors import ApiError

SEMANTIC = {"open": "P", "won": "S", "lost": "F", "unsorted": "P"}


def stage_id(code: int) -> str:
    p, s = STAGE_INDEX[code]
    return str(PIPELINES[p].stages[s].id)


# Per global stage code: STAGE_ID, STAGE_SEMANTIC_ID and CATEGORY_ID.
STAGE_IDS = np.array([stage_id(s) for s in range(len(STAGE_INDEX))], dtype=object)
SEMANTICS = np.array([SEMANTIC[k] for k in STAGE_KIND], dtype=object)
CATEGORIES = np.array([PIPELINES[p].id for p, _ in STAGE_INDEX])


def _extra(kind: str, status_id: str) -> str:
    if kind == "won":
        return "success"
    if "APOLOGY" in status_id:
        return "apology"
    return "failure" if kind == "lost" else "process"


def status_list(params: dict) -> dict:
    """Deal sources, then each Bitrix24 pipeline's stages; `filter` on any field (exact)."""
    rows: list[dict] = []
    n = 0
    for sort, s in enumerate(SOURCES):
        n += 1
        rows.append(
            {
                "ID": str(n),
                "ENTITY_ID": "SOURCE",
                "STATUS_ID": s.bitrix_id,
                "NAME": s.name,
                "NAME_INIT": s.name if not s.bitrix_id.isdigit() else "",
                "SORT": str(10 * (sort + 1)),
                "SYSTEM": "N" if s.bitrix_id.isdigit() else "Y",
                "CATEGORY_ID": None,
                "COLOR": None,
                "SEMANTICS": None,
                "EXTRA": None,
            }
        )
    for p in PIPELINES:
        if p.crm != BITRIX24:
            continue
        entity = "DEAL_STAGE" if p.id == 0 else f"DEAL_STAGE_{p.id}"
        for sort, st in enumerate(p.stages):
            n += 1
            sem = {"won": "S", "lost": "F"}.get(st.kind)
            color = {"S": "#7BD500", "F": "#FF5752"}.get(sem or "", "#39A8EF")
            rows.append(
                {
                    "ID": str(n),
                    "ENTITY_ID": entity,
                    "STATUS_ID": str(st.id),
                    "NAME": st.name,
                    "NAME_INIT": st.name if st.kind != "open" else "",
                    "SORT": str(10 * (sort + 1)),
                    "SYSTEM": "Y" if st.kind != "open" else "N",
                    "CATEGORY_ID": str(p.id),
                    "COLOR": color,
                    "SEMANTICS": sem,
                    "EXTRA": {"SEMANTICS": _extra(st.kind, str(st.id)), "COLOR": color},
                }
            )
    flt = params.get("filter") or {}
    if isinstance(flt, dict):
        for k, v in flt.items():
            rows = [r for r in rows if str(r.get(k.lstrip("="))) == str(v)]
    return {"result": rows, "total": len(rows)}


def category_list(params: dict) -> dict:
    if str(params.get("entityTypeId", "")) != "2":
        raise ApiError(400, "NOT_FOUND", "Smart process not found")
    cats = [
        {
            "id": p.id,
            "name": p.name,
            "sort": 100 * (i + 1),
            "entityTypeId": 2,
            "isDefault": "Y" if p.id == 0 else "N",
            "originId": "",
            "originatorId": "",
        }
        for i, p in enumerate(x for x in PIPELINES if x.crm == BITRIX24)
    ]
    return {"result": {"categories": cats}, "total": len(cats)}
