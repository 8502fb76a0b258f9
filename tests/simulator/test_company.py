"""The simulated company: determinism, size, and the business patterns the marts must find."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd

from funnelhouse.simulator import truth
from funnelhouse.simulator.company import generate
from funnelhouse.simulator.company.timing import hour, weekday
from funnelhouse.simulator.config import SimConfig
from funnelhouse.simulator.export import export

OFFSET = 3 * 3600


def _digest(company) -> str:
    h = hashlib.sha256()
    for frame in (
        company.leads,
        company.events,
        company.calls,
        company.onec.sales,
        company.onec.payments,
    ):
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def test_same_seed_same_company_other_seed_differs():
    a, b = generate(SimConfig(seed=11, scale=0.02)), generate(SimConfig(seed=11, scale=0.02))
    assert _digest(a) == _digest(b)
    assert _digest(generate(SimConfig(seed=12, scale=0.02))) != _digest(a)


def test_exports_are_byte_identical_for_a_seed(tmp_path):
    one = export(generate(SimConfig(seed=5, scale=0.01)), tmp_path / "a", ("jsonl",))
    two = export(generate(SimConfig(seed=5, scale=0.01)), tmp_path / "b", ("jsonl", "parquet"))
    assert one["streams"] == two["streams"]
    for f in (tmp_path / "a").rglob("*.jsonl"):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
    assert all(v["records"] > 0 for k, v in one["streams"].items() if k != "amocrm.leads_deleted")
    assert (tmp_path / "b" / "uis" / "calls.parquet").exists()


def test_default_demo_company_is_fast():
    t0 = time.perf_counter()
    c = generate(SimConfig())
    assert time.perf_counter() - t0 < 30
    assert 80_000 < len(c.calls) < 130_000 and len(c.leads) == 10_000


def test_business_patterns(company):
    c = generate(SimConfig(seed=3, scale=0.3))
    L, C = c.leads, c.calls
    wd = weekday(L["created_at"].to_numpy(), OFFSET)
    assert (wd >= 5).mean() < 0.15  # fewer leads at weekends
    inbound = C[C["inbound"]]
    missed = ~inbound["answered"].to_numpy()
    assert 0.06 < missed.mean() < 0.16
    h = hour(inbound["start"].to_numpy(), OFFSET)
    evening = (h >= 19) | (h < 9)
    assert (
        missed[evening].mean()
        > 2 * missed[~evening & (weekday(inbound["start"].to_numpy(), OFFSET) < 5)].mean()
    )
    won = L[L["outcome"] == 1]
    talk = (
        C[C["lead"] >= 0]
        .groupby(L["rating"].to_numpy()[C.loc[C["lead"] >= 0, "lead"]])["talk"]
        .sum()
    )
    per_rub = talk / won.groupby("rating")["price"].sum()
    assert per_rub[0] * 2 < per_rub[1] < per_rub[2]  # AA << BB < CC talk per rouble
    assert (L["forgotten_at"] >= 0).any() and (L["deleted_at"] >= 0).any()
    assert 0.1 < (L["outcome"] == 1).mean() < 0.35
    assert (C["kind"] == 2).mean() > 0.03  # calls from unknown numbers
    assert C["uis_id"].is_unique and C["uis_id"].is_monotonic_increasing


def test_inn_checksums_and_1c_links(company):
    w = np.array([2, 4, 10, 3, 5, 9, 4, 6, 8])
    for inn in company.clients["inn"]:
        if len(inn) == 10:
            d = np.array([int(x) for x in inn])
            assert (d[:9] @ w) % 11 % 10 == d[9]
    cp = company.onec.counterparties
    known = cp[cp["client"] >= 0]
    won_clients = set(company.leads.loc[company.leads["outcome"] == 1, "client"])
    assert set(known["client"]) == won_clients


def test_ground_truth_is_consistent(company):
    t = truth.truth(company)
    sh = t["stage_history"]
    open_rows = sh[sh["valid_to"].isna()]
    assert open_rows["deal_id"].is_unique and set(open_rows["deal_id"]) == set(
        t["leads"]["deal_id"]
    )
    closed = sh.dropna(subset=["valid_to"])
    assert (closed["valid_to"] >= closed["valid_from"]).all()
    calls = t["calls"]
    no_deal = calls[calls["deal_id"].isna()]
    assert set(no_deal["kind"]) <= {"unknown_number", "callback"}  # callbacks of unknown numbers
    assert (calls.loc[calls["kind"] == "unknown_number", "deal_id"].isna()).all()
    won = t["leads"][t["leads"]["outcome"] == "won"]
    assert won["won_at"].notna().all()
    m = t["missed_calls"]
    assert (m.loc[m["callback_call_id"].notna(), "callback_delay_seconds"] > 0).all()
    assert len(t["plans"]) == len(company.managers) * 24
