"""1C: counterparties (INN = the CRM company's INN), contracts, sales and bank receipts.

Money follows won deals: a sale document a few days after the win (monthly for recurring
projects on a contract), a payment after the sale (sometimes before it, sometimes split).
Documents are sometimes entered late, edited long after their date (a new DataVersion) or
marked for deletion, which is why 1C change tracking cannot rely on document dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.deals import OUTCOME_WON
from funnelhouse.simulator.company.directory import PROJECTS
from funnelhouse.simulator.company.timing import DAY


@dataclass
class Accounting:
    counterparties: pd.DataFrame
    contracts: pd.DataFrame
    sales: pd.DataFrame
    payments: pd.DataFrame


def guid_ints(start: int, n: int, salt: int) -> np.ndarray:
    """Unique 48-bit numbers: a 32-bit bijective mix of the index, then 16 bits of table salt."""
    x = (
        np.arange(start, start + n, dtype=np.uint64) * np.uint64(0x9E3779B1)
        + np.uint64(salt & 0xFFFFFFFF)
    ) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(13)
    return ((x << np.uint64(16)) | np.uint64(salt & 0xFFFF)).astype(np.int64)


def _versions(
    rng: np.random.Generator, created: np.ndarray, p_edit: float, p_mark: float, end: int
) -> tuple[np.ndarray, np.ndarray]:
    n = created.size
    edit = np.where(rng.random(n) < p_edit, created + rng.integers(5 * DAY, 120 * DAY, n), -1)
    mark = np.where(rng.random(n) < p_mark, created + rng.integers(DAY, 60 * DAY, n), -1)
    return np.where(edit < end, edit, -1), np.where(mark < end, mark, -1)


def _entered(rng: np.random.Generator, date: np.ndarray) -> np.ndarray:
    """When a document appears in the infobase: hours after its date, for 5 % days later."""
    late = rng.random(date.size) < 0.05
    return date + np.where(
        late, rng.integers(DAY, 10 * DAY, date.size), rng.integers(600, 6 * 3600, date.size)
    )


def generate(rng: np.random.Generator, leads: pd.DataFrame, n_clients: int, end: int) -> Accounting:
    won = leads[leads["outcome"].to_numpy() == OUTCOME_WON]
    won_at = won["closed_at"].to_numpy()
    client = won["client"].to_numpy()
    # Counterparties: every client that ever won, plus suppliers and others unknown to the CRM.
    first_win = pd.Series(won_at).groupby(client).min()
    cp_client = first_win.index.to_numpy()
    cp_created = first_win.to_numpy() + rng.integers(3600, 2 * DAY, cp_client.size)
    n_other = max(1, int(cp_client.size * 0.1))
    other_created = rng.integers(int(leads["created_at"].min()), end, n_other)
    counterparties = pd.DataFrame(
        {
            "client": np.concatenate([cp_client, np.full(n_other, -1)]),
            "other": np.concatenate([np.zeros(cp_client.size, int), np.arange(1, n_other + 1)]),
            "created_at": np.concatenate([cp_created, other_created]),
        }
    ).sort_values("created_at", kind="stable", ignore_index=True)
    counterparties["no_inn"] = rng.random(len(counterparties)) < 0.02
    e, m = _versions(rng, counterparties["created_at"].to_numpy(), 0.15, 0.005, end)
    counterparties["edit_at"], counterparties["mark_at"] = e, m
    cp_of_client = np.full(n_clients, -1)
    has = counterparties["client"].to_numpy() >= 0
    cp_of_client[counterparties["client"].to_numpy()[has]] = np.flatnonzero(has)

    # Contracts: AA clients and recurring projects sign one; others buy on invoices.
    recurring = np.array([p.recurring for p in PROJECTS])[won["project"].to_numpy()]
    contract_client = (won["rating"].to_numpy() == 0) | recurring
    cc = pd.DataFrame({"client": client[contract_client], "at": won_at[contract_client]})
    cc = cc.groupby("client")["at"].min()
    contracts = pd.DataFrame(
        {
            "counterparty": cp_of_client[cc.index.to_numpy()],
            "created_at": np.maximum(
                cc.to_numpy() + rng.integers(3600, DAY, cc.size),
                counterparties["created_at"].to_numpy()[cp_of_client[cc.index.to_numpy()]] + 60,
            ),
        }
    ).sort_values("created_at", kind="stable", ignore_index=True)
    contracts["valid_till_days"] = np.where(rng.random(len(contracts)) < 0.5, 365, 0)
    e, m = _versions(rng, contracts["created_at"].to_numpy(), 0.05, 0.0, end)
    contracts["edit_at"], contracts["mark_at"] = e, m
    contract_of_cp = np.full(len(counterparties), -1)
    contract_of_cp[contracts["counterparty"].to_numpy()] = np.arange(len(contracts))

    # Sales: one after each win; monthly for recurring projects with a contract.
    lead_idx = won.index.to_numpy()
    months = np.where(recurring & contract_client, rng.geometric(1 / 8, lead_idx.size), 0)
    months = np.minimum(months, 24)
    rep = np.repeat(np.arange(lead_idx.size), months + 1)
    k = np.arange(rep.size) - np.repeat(np.cumsum(months + 1) - (months + 1), months + 1)
    date = won_at[rep] + rng.exponential(3 * DAY, rep.size).astype(np.int64) + k * 30 * DAY
    cp = cp_of_client[client[rep]]
    contract = np.where(contract_client[rep], contract_of_cp[cp], -1)
    sales = pd.DataFrame(
        {
            "lead": lead_idx[rep],
            "counterparty": cp,
            "contract": contract,
            "project": won["project"].to_numpy()[rep],
            "date": date,
            "amount": won["price"].to_numpy()[rep].astype(float),
        }
    )
    cp_created = counterparties["created_at"].to_numpy()
    sales["created_at"] = np.maximum(_entered(rng, sales["date"].to_numpy()), cp_created[cp] + 60)
    sales = sales[sales["created_at"] < end].sort_values("date", kind="stable", ignore_index=True)
    e, m = _versions(rng, sales["created_at"].to_numpy(), 0.05, 0.012, end)
    sales["edit_at"], sales["mark_at"] = e, m
    sales["edit_factor"] = np.round(rng.uniform(0.9, 1.1, len(sales)), 2)

    # Payments: most sales are paid within days, some in advance, some in two parts.
    paid = rng.random(len(sales)) < 0.92
    split = paid & (rng.random(len(sales)) < 0.06)
    s_idx = np.concatenate([np.flatnonzero(paid), np.flatnonzero(split)])
    part = np.concatenate([np.where(split[paid], 0.5, 1.0), np.full(split.sum(), 0.5)])
    second = np.concatenate([np.zeros(paid.sum(), bool), np.ones(split.sum(), bool)])
    sdate = sales["date"].to_numpy()[s_idx]
    prepaid = (~second) & (rng.random(s_idx.size) < 0.12)
    delay = rng.lognormal(np.log(6 * DAY), 0.8, s_idx.size).astype(np.int64)
    pdate = np.where(
        prepaid,
        sdate - rng.integers(DAY, 5 * DAY, s_idx.size),
        sdate + delay + np.where(second, 15 * DAY, 0),
    )
    payments = pd.DataFrame(
        {
            "sale": s_idx,
            "counterparty": sales["counterparty"].to_numpy()[s_idx],
            "contract": sales["contract"].to_numpy()[s_idx],
            "date": pdate,
            "amount": np.round(sales["amount"].to_numpy()[s_idx] * part, 2),
        }
    )
    payments["created_at"] = _entered(rng, payments["date"].to_numpy())
    payments = payments[payments["created_at"] < end].sort_values(
        "date", kind="stable", ignore_index=True
    )
    e, m = _versions(rng, payments["created_at"].to_numpy(), 0.02, 0.01, end)
    payments["edit_at"], payments["mark_at"] = e, m
    payments["edit_factor"] = 1.0

    # A global write sequence gives every version a DataVersion that changes on every write.
    tables = [counterparties, contracts, sales, payments]
    stamps = np.concatenate(
        [t[c].to_numpy() for t in tables for c in ("created_at", "edit_at", "mark_at")]
    )
    order = np.argsort(np.where(stamps < 0, np.iinfo(np.int64).max, stamps), kind="stable")
    seq = np.empty(stamps.size, dtype=np.int64)
    seq[order] = np.arange(1, stamps.size + 1) * 7 + 100
    pos = 0
    for salt, t in enumerate(tables):
        for c in ("created_at", "edit_at", "mark_at"):
            t[f"seq_{c.split('_')[0]}"] = seq[pos : pos + len(t)]
            pos += len(t)
        t["guid"] = guid_ints(0, len(t), 0x5A17 + salt * 0x1F3D5B)
        t["guid_hi"] = rng.integers(0, 1 << 16, len(t))  # clock-sequence part of the GUID
    return Accounting(counterparties, contracts, sales, payments)
