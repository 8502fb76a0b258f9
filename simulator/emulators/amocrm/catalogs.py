"""Catalogues: the account's product list (`/api/v4/catalogs`, `/catalogs/{id}/elements`) and
the elements each lead links (`with=catalog_elements`: id and metadata {quantity, catalog_id,
price_id}; the price is the element's PRICE field, so a link carries no price of its own)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import AMOCRM, PROJECTS
from funnelhouse.simulator.company.marketing import PRODUCTS
from funnelhouse.simulator.emulators.amocrm.directory import ACCOUNT_ID, ADMIN_ID

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.amocrm.router import AmoCrm

CATALOG_ID = 8_301
ELEMENT_BASE = 1_530_000  # element id = base + 1 + index in PRODUCTS
CF_PRICE, CF_SKU = 1_278_898_101, 1_278_898_103
AMO_PRODUCTS = [i for i, p in enumerate(PRODUCTS) if PROJECTS[p.project].crm == AMOCRM]


def element_id(product: int) -> int:
    return ELEMENT_BASE + 1 + product


def links_by_lead(emu: AmoCrm) -> dict[int, list[tuple[int, int]]]:
    """Lead row → [(element id, quantity)] in row order."""
    p = emu.c.products
    out: dict[int, list[tuple[int, int]]] = {}
    for lead, product, qty in zip(p["lead"], p["product"], p["quantity"], strict=True):
        out.setdefault(int(lead), []).append((element_id(int(product)), int(qty)))
    return out


def embedded(emu: AmoCrm, row: int) -> list[dict[str, Any]]:
    return [
        {
            "id": eid,
            "metadata": {"quantity": qty, "catalog_id": CATALOG_ID, "price_id": CF_PRICE},
            "_links": emu.url(f"/api/v4/catalogs/{CATALOG_ID}/elements/{eid}"),
        }
        for eid, qty in emu.catalog_links.get(row, [])
    ]


def catalog(emu: AmoCrm) -> dict[str, Any]:
    created = emu.c.cfg.start_ts - 30 * 86_400
    return {
        "id": CATALOG_ID,
        "name": "Товары",
        "created_by": ADMIN_ID,
        "updated_by": ADMIN_ID,
        "created_at": created,
        "updated_at": created,
        "sort": 10,
        "type": "products",
        "can_add_elements": True,
        "can_show_in_cards": False,
        "can_link_multiple": True,
        "can_be_deleted": False,
        "sdk_widget_code": None,
        "account_id": ACCOUNT_ID,
        "_links": emu.url(f"/api/v4/catalogs/{CATALOG_ID}"),
    }


def element_view() -> pd.DataFrame:
    ids = np.array([element_id(i) for i in AMO_PRODUCTS], dtype=np.int64)
    return pd.DataFrame({"row": np.array(AMO_PRODUCTS), "id": ids})


def element(emu: AmoCrm, product: int) -> dict[str, Any]:
    p = PRODUCTS[product]
    created = emu.c.cfg.start_ts - 30 * 86_400
    eid = element_id(product)
    return {
        "id": eid,
        "name": p.name,
        "created_by": ADMIN_ID,
        "updated_by": ADMIN_ID,
        "created_at": created,
        "updated_at": created,
        "is_deleted": False,
        "custom_fields_values": [
            {
                "field_id": CF_SKU,
                "field_name": "Артикул",
                "field_code": "SKU",
                "field_type": "text",
                "values": [{"value": f"SKU-{eid}"}],
            },
            {
                "field_id": CF_PRICE,
                "field_name": "Цена",
                "field_code": "PRICE",
                "field_type": "price",
                "values": [{"value": p.list_price}],
            },
        ],
        "catalog_id": CATALOG_ID,
        "account_id": ACCOUNT_ID,
        "_links": emu.url(f"/api/v4/catalogs/{CATALOG_ID}/elements/{eid}"),
    }
