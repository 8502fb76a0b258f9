"""Product rows of deals (crm.item.productrow.list): `=ownerType` and `=ownerId` are required
(REQUIRED_ARG_MISSING), a deal that does not exist (or was deleted) is ACCESS_DENIED, rows
come in `result.productRows` with camelCase fields and JSON numbers, 50 a page (`start`),
filterable by `id` and `productId`, ordered by `sort` unless `order` says `id`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import BITRIX24, PROJECTS
from funnelhouse.simulator.company.marketing import PRODUCTS
from funnelhouse.simulator.emulators import defects
from funnelhouse.simulator.emulators.bitrix24 import deals
from funnelhouse.simulator.emulators.bitrix24.errors import ApiError
from funnelhouse.simulator.emulators.bitrix24.listing import Table, coerce
from funnelhouse.simulator.emulators.world import col

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24

ROW_BASE = 1_000  # row id = base + 1 + position in the company's product rows
PRODUCT_BASE = 200  # catalogue product id = base + 1 + index in PRODUCTS
B24_PRODUCTS = [i for i, p in enumerate(PRODUCTS) if PROJECTS[p.project].crm == BITRIX24]
TYPES = {"ID": "int", "id": "int", "ownerId": "int", "ownerType": "str", "productId": "int",
         "sort": "int"}  # fmt: skip
SPEC = defects.RecordSpec(id="id")


@dataclass(frozen=True)
class Rows:
    """Every Bitrix24 product row, with its positions grouped by owner deal.

    The exporter (and a connector's backfill) asks for one deal's rows at a time; slicing
    that deal's run out of `by_owner` keeps such a request from scanning every product row,
    which made reading all rows quadratic in the number of deals."""

    frame: pd.DataFrame
    by_owner: np.ndarray  # positions in `frame`, stably sorted by ownerId
    owners: np.ndarray  # ownerId at those positions, ascending (for searchsorted)

    def of(self, owner: int) -> pd.DataFrame:
        """The rows whose ownerId is `owner`, in `frame` order."""
        if not -(2**63) <= owner < 2**63:
            return self.frame.iloc[0:0]
        lo = int(np.searchsorted(self.owners, owner, side="left"))
        hi = int(np.searchsorted(self.owners, owner, side="right"))
        return self.frame.iloc[self.by_owner[lo:hi]]


@dataclass(frozen=True)
class LiveDeals:
    """Look-ups into one deals view (the one the deals list would serve right now).

    Built once per view object: the world's cached frame when no fault changes it, so a
    product-row request costs O(its rows) instead of a scan of every deal; a faulted view
    (deletions, re-saves) is a new frame per request and gets a new index."""

    deals: pd.DataFrame  # kept, so an identity check never matches a recycled object id
    leads: np.ndarray  # bool per company lead: its deal is in the view
    ids: frozenset[int]  # the deal IDs in the view


def rows(emu: Bitrix24) -> Rows:
    """Every product row of a Bitrix24 deal (live or not), cached per clock."""

    def build(clock: int) -> Rows:
        p = emu.c.products
        lead = p["lead"].to_numpy()
        rows = np.flatnonzero(emu.is_b24[lead])
        first = np.r_[True, lead[rows][1:] != lead[rows][:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(rows.size), 0))
        frame = pd.DataFrame(
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
        owner = frame["ownerId"].to_numpy()
        order = np.argsort(owner, kind="stable")
        return Rows(frame, order, owner[order])

    return emu.world.cached("b24.product_rows", build)


def live_deals(emu: Bitrix24) -> LiveDeals:
    """The index of `deals.view(emu)`, which is called exactly as before (its faults count
    requests), rebuilt only when the view is another frame than last time."""
    view = deals.view(emu)
    hit = emu.live_deals
    if hit is None or hit.deals is not view:
        leads = np.zeros(len(emu.c.leads), dtype=bool)
        leads[view["row"].to_numpy()] = True
        hit = LiveDeals(view, leads, frozenset(view["ID"].tolist()))
        emu.live_deals = hit
    return hit


def view(emu: Bitrix24, owner: int | None = None) -> pd.DataFrame:
    """The rows of every live deal (the deals view, so its faults apply here too); only
    those of deal `owner` if given (the rows the filter `=ownerId` would keep)."""
    every = rows(emu)
    frame = every.frame if owner is None else every.of(owner)
    return frame[live_deals(emu).leads[frame["lead"].to_numpy()]]


def owner_of(flt: Any, tz: str) -> int | None:
    """The owner a `=ownerId` filter keeps, as `listing.filtered` compares it; None when the
    filter is anything else (then the whole view is filtered, as before)."""
    if not isinstance(flt, dict) or "=ownerId" not in flt or isinstance(flt["=ownerId"], list):
        return None
    try:
        return int(coerce(flt["=ownerId"], "int", tz))
    except OverflowError:  # an infinite float: left to the filter, which fails as it did
        return None


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 2)


def render(emu: Bitrix24, r: Any) -> dict[str, Any]:
    p = emu.c.products
    i = int(r.row)
    product = PRODUCTS[int(col(p, "product")[i])]
    price = float(col(p, "price")[i])
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
        "quantity": int(col(p, "quantity")[i]),
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
    if owner not in live_deals(emu).ids:
        raise ApiError(400, "ACCESS_DENIED", "Access denied")


TABLE = Table(view, TYPES, render, SPEC, wrap="productRows")
