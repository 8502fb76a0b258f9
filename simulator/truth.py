"""Ground truth for tests: what really happened, independent of what the APIs show.

True stage history, true call→deal links, forgotten deals, won dates, missed calls and their
callbacks, and monthly plans, as DataFrames with system-prefixed ids (`amocrm:123`,
`bitrix24:45`, `uis:987654`) and UTC timestamps, as METRICS.md names them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from funnelhouse.simulator.company import Company
from funnelhouse.simulator.company.calls import (
    KIND_CALLBACK,
    KIND_DEAL,
    KIND_POSTSALE,
    KIND_UNKNOWN,
)
from funnelhouse.simulator.company.deals import STAGE_INDEX, STAGE_KIND
from funnelhouse.simulator.company.directory import (
    LOSS_REASONS,
    PIPELINES,
    PROJECTS,
    RATINGS,
    SOURCES,
)
from funnelhouse.simulator.company.marketing import PRODUCTS, UTM_KEYS, amo_price

KIND_NAMES = {
    KIND_DEAL: "deal",
    KIND_POSTSALE: "post_sale",
    KIND_UNKNOWN: "unknown_number",
    KIND_CALLBACK: "callback",
}


def _utc(ts: np.ndarray) -> pd.Series:
    s = pd.to_datetime(pd.Series(np.where(ts >= 0, ts, 0)), unit="s", utc=True)
    return s.where(pd.Series(ts >= 0), pd.NaT)


def deal_ids(c: Company) -> np.ndarray:
    return (c.leads["crm"] + ":" + c.leads["crm_id"].astype(str)).to_numpy()


def manager_names(c: Company) -> np.ndarray:
    return (c.managers["first_name"] + " " + c.managers["last_name"]).to_numpy()


def leads(c: Company) -> pd.DataFrame:
    L = c.leads
    outcome = np.array(["open", "won", "lost"])[L["outcome"].to_numpy()]
    reasons = {r[0]: r[1] for r in LOSS_REASONS}
    return pd.DataFrame(
        {
            "deal_id": deal_ids(c),
            "system": L["crm"],
            "crm_id": L["crm_id"],
            "created_at": _utc(L["created_at"].to_numpy()),
            "pipeline": [PIPELINES[p].name for p in L["pipeline"]],
            "project": [PROJECTS[p].name for p in L["project"]],
            "source": [SOURCES[s].name for s in L["source"]],
            "source_kind": [SOURCES[s].kind for s in L["source"]],
            "manager": manager_names(c)[L["manager"].to_numpy()],
            "rating": np.array(RATINGS)[L["rating"].to_numpy()],
            "client_inn": c.clients["inn"].to_numpy()[L["client"].to_numpy()],
            "is_repeat_client": L["repeat"],
            "price": L["price"],
            "outcome": outcome,
            "closed_at": _utc(L["closed_at"].to_numpy()),
            "won_at": _utc(np.where(outcome == "won", L["closed_at"].to_numpy(), -1)),
            "loss_reason": [reasons.get(int(r)) for r in L["loss_reason"]],
            "is_forgotten": L["forgotten_at"].to_numpy() >= 0,
            "last_activity_at": _utc(L["forgotten_at"].to_numpy()),
            "is_deleted": L["deleted_at"].to_numpy() >= 0,
            "deleted_at": _utc(L["deleted_at"].to_numpy()),
        }
    )


def stage_history(c: Company) -> pd.DataFrame:
    """Half-open intervals [valid_from, valid_to); the open one has valid_to = NaT."""
    ev = c.events
    lead = ev["lead"].to_numpy()
    at = ev["at"].to_numpy()
    same = np.r_[lead[1:] == lead[:-1], False]
    to = np.where(same, np.r_[at[1:], -1], -1)
    stage = ev["stage"].to_numpy()
    return pd.DataFrame(
        {
            "deal_id": deal_ids(c)[lead],
            "pipeline": [PIPELINES[STAGE_INDEX[s][0]].name for s in stage],
            "stage_id": [
                str(PIPELINES[STAGE_INDEX[s][0]].stages[STAGE_INDEX[s][1]].id) for s in stage
            ],
            "stage_name": [
                PIPELINES[STAGE_INDEX[s][0]].stages[STAGE_INDEX[s][1]].name for s in stage
            ],
            "stage_kind": STAGE_KIND[stage],
            "valid_from": _utc(at),
            "valid_to": _utc(to),
        }
    )


def calls(c: Company) -> pd.DataFrame:
    """Every call with its true deal (None for calls from numbers the CRM does not know)."""
    k = c.calls
    lead = k["lead"].to_numpy()
    ids = deal_ids(c)
    cb = k["callback_of"].to_numpy()
    uis = k["uis_id"].to_numpy()
    return pd.DataFrame(
        {
            "call_id": "uis:" + k["uis_id"].astype(str),
            "uis_id": uis,
            "deal_id": np.where(lead >= 0, ids[np.maximum(lead, 0)], None),
            "kind": [KIND_NAMES[int(x)] for x in k["kind"]],
            "direction": np.where(k["inbound"], "in", "out"),
            "answered": k["answered"],
            "start_at": _utc(k["start"].to_numpy()),
            "talk_seconds": k["talk"],
            "wait_seconds": k["wait"],
            "manager": manager_names(c)[k["manager"].to_numpy()],
            "phone": k["phone"].astype(str).to_numpy(),
            "callback_of": np.where(cb >= 0, uis[np.maximum(cb, 0)], -1),
            "in_crm": k["crm_linked"],
        }
    )


def missed_calls(c: Company) -> pd.DataFrame:
    """Missed inbound calls, and the callback that answered each (if any)."""
    k = c.calls
    missed = np.flatnonzero(k["inbound"].to_numpy() & ~k["answered"].to_numpy())
    cb_rows = np.flatnonzero(k["callback_of"].to_numpy() >= 0)
    cb_of = pd.Series(cb_rows, index=k["callback_of"].to_numpy()[cb_rows])
    cb = cb_of.reindex(missed).fillna(-1).astype(np.int64).to_numpy()
    has = cb >= 0
    start = k["start"].to_numpy()
    return pd.DataFrame(
        {
            "call_id": "uis:" + k["uis_id"].to_numpy()[missed].astype(str),
            "start_at": _utc(start[missed]),
            "callback_call_id": np.where(
                has, "uis:" + k["uis_id"].to_numpy()[np.maximum(cb, 0)].astype(str), None
            ),
            "callback_delay_seconds": np.where(has, start[np.maximum(cb, 0)] - start[missed], -1),
            "callback_answered": np.where(has, k["answered"].to_numpy()[np.maximum(cb, 0)], False),
        }
    )


def idle_deals(
    c: Company, at: int, lead_days: float = 3, deal_days: float = 14, dead_days: float = 90
) -> pd.DataFrame:
    """Deals open at `at` with the last time anyone touched them, by the simulator's own record.

    Touches are what happened to the deal in the simulation: its creation, every stage move,
    every call truly about it, every task and every non-call CRM activity on it. A deal still
    in its pipeline's first stages (unsorted or the first open one) is a "lead" and is left
    idle after `lead_days`; later stages after `deal_days`; idle `dead_days` or more, it is
    dead rather than forgotten (METRICS.md forgotten_deals).
    """
    L = c.leads
    n = len(L)
    last = np.where(L["created_at"].to_numpy() <= at, L["created_at"].to_numpy(), -1)

    def touch(lead: np.ndarray, when: np.ndarray) -> None:
        keep = (lead >= 0) & (when <= at)
        np.maximum.at(last, lead[keep], when[keep])

    ev = c.events
    touch(ev["lead"].to_numpy(), ev["at"].to_numpy())
    touch(c.calls["lead"].to_numpy(), c.calls["start"].to_numpy())
    touch(c.crm.amo_tasks["lead"].to_numpy(), c.crm.amo_tasks["at"].to_numpy())
    act = c.crm.b24_activities
    not_call = act["type_id"].to_numpy() != 2
    touch(act["lead"].to_numpy()[not_call], act["at"].to_numpy()[not_call])
    # The stage each lead is in at `at`: its last stage event so far.
    seen = ev[ev["at"].to_numpy() <= at]
    stage = np.full(n, -1, dtype=np.int64)
    stage[seen["lead"].to_numpy()] = seen["stage"].to_numpy()  # events are in time order
    kind = np.where(stage >= 0, STAGE_KIND[np.maximum(stage, 0)], "")
    deleted = (L["deleted_at"].to_numpy() >= 0) & (L["deleted_at"].to_numpy() <= at)
    open_ = np.isin(kind, ["unsorted", "open"]) & ~deleted & (last >= 0)
    rows = np.flatnonzero(open_)
    first_open = np.array([p.index("open") for p in PIPELINES])
    pos = np.array([s for _, s in STAGE_INDEX])[stage[rows]]
    pipe = np.array([p for p, _ in STAGE_INDEX])[stage[rows]]
    is_lead = pos <= first_open[pipe]
    idle = (at - last[rows]) / 86_400
    threshold = np.where(is_lead, lead_days, deal_days)
    return pd.DataFrame(
        {
            "deal_id": deal_ids(c)[rows],
            "kind": np.where(is_lead, "lead", "deal"),
            "last_activity_at": _utc(last[rows]),
            "idle_days": idle,
            "is_forgotten": (idle >= threshold) & (idle < dead_days),
            "is_dead": idle >= dead_days,
        }
    )


def sales(c: Company, at: int) -> pd.DataFrame:
    """1C sales entered by `at`, dated by it and not marked for deletion by it, with the amount
    they then show (an edit scales it). The emulator also leaves a few documents unposted."""
    s = c.onec.sales
    entered = (s["created_at"].to_numpy() <= at) & (s["date"].to_numpy() <= at)
    marked = (s["mark_at"].to_numpy() >= 0) & (s["mark_at"].to_numpy() <= at)
    edited = (s["edit_at"].to_numpy() >= 0) & (s["edit_at"].to_numpy() <= at)
    keep = entered & ~marked
    amount = s["amount"].to_numpy() * np.where(edited, s["edit_factor"].to_numpy(), 1.0)
    return pd.DataFrame(
        {"counterparty": s["counterparty"].to_numpy()[keep], "amount": amount[keep]}
    )


def plans(c: Company) -> pd.DataFrame:
    p = c.plans
    return pd.DataFrame(
        {
            "manager": manager_names(c)[p["manager"].to_numpy()],
            "system": c.managers["crm"].to_numpy()[p["manager"].to_numpy()],
            "month": p["month"],
            "plan_revenue": p["plan_revenue"],
            "plan_deals": p["plan_deals"],
        }
    )


def utm(c: Company) -> pd.DataFrame:
    """Each lead's UTM tags as its CRM holds them (None where the lead has no such tag)."""
    return pd.DataFrame({"deal_id": deal_ids(c), **{k: c.utm[k] for k in UTM_KEYS}})


def deal_products(c: Company) -> pd.DataFrame:
    """Product rows of deals as each CRM shows them: Bitrix24 rows carry the deal's own unit
    price and add up to its final amount; amoCRM links carry a quantity and the catalogue's
    list price, so they need not (METRICS.md product_revenue splits the amount by them)."""
    p = c.products
    lead = p["lead"].to_numpy()
    system = c.leads["crm"].to_numpy()[lead]
    price = np.where(system == "amocrm", amo_price(p), p["price"].to_numpy())
    return pd.DataFrame(
        {
            "deal_id": deal_ids(c)[lead],
            "system": system,
            "product": [PRODUCTS[i].name for i in p["product"]],
            "quantity": p["quantity"].to_numpy(),
            "unit_price": price,
            "amount": p["quantity"].to_numpy() * price,
        }
    )


TABLES = {
    "leads": leads,
    "stage_history": stage_history,
    "calls": calls,
    "missed_calls": missed_calls,
    "plans": plans,
    "utm": utm,
    "deal_products": deal_products,
}


def truth(c: Company) -> dict[str, pd.DataFrame]:
    return {name: fn(c) for name, fn in TABLES.items()}


def write_truth(c: Company, out: Path, fmt: str = "parquet") -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in truth(c).items():
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        paths[name] = path
    return paths
