"""Product rows of deals (crm.item.productrow.list): `=ownerType` and `=ownerId` are required
(REQUIRED_ARG_MISSING), a deal that does not exist (or was deleted) is ACCESS_DENIED, rows
come in `result.productRows` with camelCase fields and JSON numbers, 50 a page (`start`),
filterable by `id` and `productId`, ordered by `sort` unless `order` says `id`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import BITRIX24, PROJECTS
from funnelhouse.simulator.company.marketing import PRODUCTS
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24 import deals
from funnelhouse.simulator.emulators.bitrix24.errors import ApiError
from funnelhouse.simulator.emulators.bitrix24.listing import Table

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

ROW_BASE = 1_000  # row id = base + 1 + position in the company's product rows
PRODUCT_BASE = 200  # catalogue product id = base + 1 + index in PRODUCTS
B24_PRODUCTS = [i for i, p in enumerate(PRODUCTS) if PROJECTS[p.project].crm == BITRIX24]
TYPES = {"ID": "int", "id": "int", "ownerId": "int", "ownerType": "str", "productId": "int",
         "sort": "int"}  # fmt: skip
SPEC = defects.RecordSpec(id="id")


def view(emu: Bitrix24) -> pd.DataFrame:
    """The rows of every live deal (the deals view, so its faults apply here too)."""

    def build(clock: int) -> pd.DataFrame:
        p = emu.c.products
        lead = p["lead"].to_numpy()
        rows = np.flatnonzero(emu.is_b24[lead])
        first = np.r_[True, lead[rows][1:] != lead[rows][:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(rows.size), 0))
        return pd.DataFrame(
            {
                "row": rows,
                "ID": ROW_BASE + 1 + rows,
                "id": ROW_BASE + 1 + rows,
                "lead": lead[rows],
                "ownerId": emu.c.leads["crm_id"].to_numpy()[lead[rows]],
                "ownerType": "D",
                "productId": PRODUCT_BASE + 1 + p["product"].to_numpy()[rows],
                "sort": 10 * (np.arange(rows.size) - start + 1),
            }
        )

    rows = emu.world.cached("b24.product_rows", build)
    return rows[rows["lead"].isin(deals.view(emu)["row"])]


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 2)


def render(emu: Bitrix24, r: Any) -> dict[str, Any]:
    p = emu.c.products
    i = int(r.row)
    product = PRODUCTS[int(p["product"].iat[i])]
    price = float(p["price"].iat[i])
    return {
        "id": int(r.id),
        "ownerId": int(r.ownerId),
        "ownerType": "D",
        "productId": int(r.productId),
        "productName": product.name,
        "price": _number(price),
        "priceAccount": _number(price),
        "priceExclusive": _number(price),
        "priceNetto": _number(price),
        "priceBrutto": _number(price),
        "quantity": int(p["quantity"].iat[i]),
        "discountTypeId": 2,
        "discountRate": 0,
        "discountSum": 0,
        "taxRate": None,
        "taxIncluded": "Y",
        "taxName": "Без НДС",
        "customized": "Y",
        "measureCode": 796,
        "measureName": "шт",
        "sort": int(r.sort),
        "xmlId": "",
        "type": 1,
        "storeId": None,
    }


def check_owner(emu: Bitrix24, flt: dict) -> None:
    """The filter must name the owner; a deal that is not there is refused as the portal does."""
    if "=ownerType" not in flt or "=ownerId" not in flt:
        raise ApiError(400, "REQUIRED_ARG_MISSING", "Required filter keys: =ownerType, =ownerId")
    if str(flt["=ownerType"]) != "D":
        return
    try:
        owner = int(str(flt["=ownerId"]))
    except ValueError:
        raise ApiError(400, "INVALID_ARG_VALUE", "Invalid value of =ownerId") from None
    if not (deals.view(emu)["ID"] == owner).any():
        raise ApiError(400, "ACCESS_DENIED", "Access denied")


TABLE = Table(view, TYPES, render, SPEC, wrap="productRows")
