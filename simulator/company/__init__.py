"""The simulated company: one deterministic model from which all four source systems are served.

`generate(SimConfig(seed, scale))` draws everything with one numpy Generator in a fixed order,
so a seed always gives byte-identical data. The tables hold unix seconds and indices; the
emulators format them the way each real API does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from funnelhouse.simulator.company import accounting, calls, crm, deals, marketing, people
from funnelhouse.simulator.company.directory import AMOCRM, PIPELINES, company_name
from funnelhouse.simulator.company.timing import DAY, local_offset
from funnelhouse.simulator.config import SimConfig


@dataclass
class Company:
    cfg: SimConfig
    managers: pd.DataFrame
    clients: pd.DataFrame
    leads: pd.DataFrame
    events: pd.DataFrame  # the true stage history: lead, at, stage (global code)
    calls: pd.DataFrame
    crm: crm.CrmTables
    onec: accounting.Accounting
    plans: pd.DataFrame
    utm: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per lead (marketing.py)
    products: pd.DataFrame = field(default_factory=pd.DataFrame)  # deal product rows
    generation_seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "managers": len(self.managers),
            "clients": len(self.clients),
            "leads": len(self.leads),
            "stage_events": len(self.events),
            "calls": len(self.calls),
            "amocrm_events": len(self.crm.amo_events),
            "amocrm_notes": len(self.crm.amo_notes),
            "amocrm_tasks": len(self.crm.amo_tasks),
            "bitrix24_stage_history": len(self.crm.b24_history),
            "bitrix24_calls": len(self.crm.b24_calls),
            "bitrix24_activities": len(self.crm.b24_activities),
            "onec_counterparties": len(self.onec.counterparties),
            "onec_contracts": len(self.onec.contracts),
            "onec_sales": len(self.onec.sales),
            "onec_payments": len(self.onec.payments),
            "product_rows": len(self.products),
        }


def _clients(rng: np.random.Generator, leads: pd.DataFrame, end: int) -> pd.DataFrame:
    client = leads["client"].to_numpy()
    n = int(client.max()) + 1
    first = np.full(n, -1)
    first[client[::-1]] = np.arange(len(leads))[::-1]
    idx = np.arange(n)
    individual = idx % 5 == 4  # company_name() makes every fifth client a sole trader (ИП)
    a, b = int(rng.integers(1_000, 900_000)) * 2 + 1, int(rng.integers(0, 10**8))
    created = leads["created_at"].to_numpy()[first]
    is_amo = leads["crm"].to_numpy()[first] == AMOCRM
    out = pd.DataFrame(
        {
            "crm": leads["crm"].to_numpy()[first],
            "rating": leads["rating"].to_numpy()[first],
            "created_at": created,
            "phone": people.phone(idx, a, b),
            "inn": people.inn(idx, individual, rng),
            "individual": individual,
        }
    )
    out["edit_at"] = np.where(rng.random(n) < 0.25, created + rng.integers(DAY, 300 * DAY, n), -1)
    out.loc[out["edit_at"] >= end, "edit_at"] = -1
    out["contact_id"] = 0
    out["company_id"] = 0
    out.loc[is_amo, "contact_id"] = 31_000_000 + np.cumsum(rng.integers(1, 4, is_amo.sum()))
    out.loc[is_amo, "company_id"] = 36_000_000 + np.cumsum(rng.integers(1, 4, is_amo.sum()))
    out.loc[~is_amo, "contact_id"] = np.arange(1, (~is_amo).sum() + 1)
    out.loc[~is_amo, "company_id"] = np.arange(1, (~is_amo).sum() + 1)
    out["name"] = [company_name(int(i)) for i in idx]
    return out


def _plans(
    leads: pd.DataFrame, mgr: pd.DataFrame, start: int, end: int, offset: int
) -> pd.DataFrame:
    """Monthly plans: the manager's typical month, 15 % up, rounded as a sales head would."""
    won = leads[leads["outcome"] == deals.OUTCOME_WON]
    months = pd.period_range(
        pd.Timestamp(start + offset, unit="s"), pd.Timestamp(end - 1 + offset, unit="s"), freq="M"
    )
    per_mgr = won.groupby("manager")["price"].agg(["sum", "count"])
    rows = []
    n_months = len(months)
    for m in range(len(mgr)):
        rev = per_mgr["sum"].get(m, 0) / n_months
        cnt = per_mgr["count"].get(m, 0) / n_months
        for month in months:
            season = 0.8 if month.month in (1, 7, 8) else 1.0
            rows.append(
                (
                    m,
                    str(month),
                    max(10_000, round(rev * 1.15 * season, -4)),
                    max(1, round(cnt * 1.15 * season)),
                )
            )
    return pd.DataFrame(rows, columns=["manager", "month", "plan_revenue", "plan_deals"])


def generate(cfg: SimConfig | None = None) -> Company:
    cfg = cfg or SimConfig()
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    start, end = cfg.start_ts, cfg.end_ts
    offset = local_offset(cfg.business_tz, start)
    mgr = people.managers(rng, cfg.scale, start, end)
    d = deals.generate(rng, mgr, cfg.scale, start, end, offset)
    d.leads["crm_id"] = crm.crm_ids(rng, d.leads)
    clients = _clients(rng, d.leads, end)
    c = calls.generate(rng, d, mgr, clients["phone"].to_numpy(), len(clients), start, end, offset)
    tables = crm.build(rng, d, c, mgr, end)
    onec = accounting.generate(rng, d.leads, len(clients), end)
    plans = _plans(d.leads, mgr, start, end, offset)
    extra = marketing.generator(cfg.seed)
    utm = marketing.utm(extra, d.leads)
    products = marketing.deal_products(extra, d.leads)
    company = Company(cfg, mgr, clients, d.leads, d.events, c, tables, onec, plans, utm, products)
    company.generation_seconds = time.perf_counter() - t0
    company.meta = {"pipelines": len(PIPELINES)}
    return company
