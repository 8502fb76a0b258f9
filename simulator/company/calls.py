"""Calls: tied to deals and stages, post-sale calls, unknown numbers, missed calls, callbacks.

A deal gets calls in proportion to how long it sits in a stage and how talk-heavy that stage
and the client's rating are. UIS records every call; the CRM only learns about a call through
its telephony integration (amoCRM call notes with the UIS id in `params.uniq`, Bitrix24
external calls with it in EXTERNAL_CALL_ID), which misses a few.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.deals import (
    OUTCOME_WON,
    STAGE_CALLS,
    STAGE_KIND,
    STAGE_POS,
    Deals,
)
from funnelhouse.simulator.company.directory import PROJECTS, RATING_CALLS, RATING_TALK, SOURCES
from funnelhouse.simulator.company.people import in_burnout
from funnelhouse.simulator.company.timing import (
    DAY,
    HOURS_IN,
    HOURS_OUT,
    WEEKDAY_CALLS,
    hour,
    snap_to_hours,
    time_of_day,
    weekday,
)

KIND_DEAL, KIND_POSTSALE, KIND_UNKNOWN, KIND_CALLBACK = 0, 1, 2, 3
FINISH_REASONS = (
    "subscriber_disconnects",
    "operator_disconnects",
    "timeout",
    "subscriber_busy",
    "no_success_operator_call",
)


def _intervals(deals: Deals, end: int) -> pd.DataFrame:
    ev = deals.events
    lead = ev["lead"].to_numpy()
    at = ev["at"].to_numpy()
    leads = deals.leads
    horizon = np.where(leads["deleted_at"].to_numpy() >= 0, leads["deleted_at"].to_numpy(), end)
    nxt = np.r_[at[1:], 0]
    same = np.r_[lead[1:] == lead[:-1], False]
    to = np.where(same, nxt, horizon[lead])
    forgotten_at = leads["forgotten_at"].to_numpy()[lead]
    # A forgotten deal gets a day or two of attention in its last stage, then nothing.
    to = np.where((~same) & (forgotten_at >= 0), np.minimum(to, at + 2 * DAY), to)
    return pd.DataFrame({"lead": lead, "from": at, "to": to, "stage": ev["stage"].to_numpy()})


def _finish(rng: np.random.Generator, answered: np.ndarray, inbound: np.ndarray) -> np.ndarray:
    n = answered.size
    talked = rng.choice(2, size=n, p=[0.55, 0.45])
    missed_in = rng.choice([0, 2, 4], size=n, p=[0.5, 0.3, 0.2])
    unanswered_out = rng.choice([2, 3], size=n, p=[0.7, 0.3])
    return np.where(answered, talked, np.where(inbound, missed_in, unanswered_out))


def generate(
    rng: np.random.Generator,
    deals: Deals,
    mgr: pd.DataFrame,
    phones: np.ndarray,
    n_contacts: int,
    start: int,
    end: int,
    offset: int,
) -> pd.DataFrame:
    leads = deals.leads
    iv = _intervals(deals, end)
    iv = iv[(STAGE_KIND[iv["stage"].to_numpy()] == "open") & (iv["to"] > iv["from"])]
    lead = iv["lead"].to_numpy()
    rating = leads["rating"].to_numpy()[lead]
    difficulty = np.array([p.difficulty for p in PROJECTS])[leads["project"].to_numpy()[lead]]
    dur_days = (iv["to"].to_numpy() - iv["from"].to_numpy()) / DAY
    lam = (
        0.65
        * STAGE_CALLS[iv["stage"].to_numpy()]
        * np.array(RATING_CALLS)[rating]
        * np.sqrt(difficulty)
        * np.minimum(1 + dur_days / 7, 3.0)
    )
    n = rng.poisson(lam)
    rep = np.repeat(np.arange(lead.size), n)
    c_lead = lead[rep]
    span = (iv["to"].to_numpy() - iv["from"].to_numpy())[rep]
    c_from = iv["from"].to_numpy()[rep]
    c_start = c_from + (rng.random(rep.size) * span).astype(np.int64)
    c_stage = iv["stage"].to_numpy()[rep]

    # Post-sale calls: onboarding questions, invoices, support, in the weeks after the win.
    won = np.flatnonzero(leads["outcome"].to_numpy() == OUTCOME_WON)
    k = rng.poisson(1.5 * np.array(RATING_CALLS)[leads["rating"].to_numpy()[won]])
    p_lead = np.repeat(won, k)
    p_start = leads["closed_at"].to_numpy()[p_lead] + rng.exponential(20 * DAY, p_lead.size).astype(
        np.int64
    )
    p_stage = deals.events.groupby("lead")["stage"].last().reindex(p_lead).to_numpy()
    d_lead = np.concatenate([c_lead, p_lead])
    d_start = np.concatenate([c_start, p_start])
    d_stage = np.concatenate([c_stage, p_stage])
    d_kind = np.concatenate([np.full(c_lead.size, KIND_DEAL), np.full(p_lead.size, KIND_POSTSALE)])
    d_lo = np.concatenate([c_from, leads["closed_at"].to_numpy()[p_lead]])
    cold = np.array([s.kind == "cold" for s in SOURCES])[leads["source"].to_numpy()[d_lead]]
    p_out = np.where(d_kind == KIND_POSTSALE, 0.4, np.where(cold, 0.8, 0.6))
    d_in = rng.random(d_lead.size) >= p_out
    snapped = np.where(
        d_in,
        snap_to_hours(rng, d_start, HOURS_IN, offset, 0.3),
        snap_to_hours(rng, d_start, HOURS_OUT, offset, 0.1),
    )
    # Keep a call inside its interval when snapping moved it out (short intervals).
    d_start = np.where(snapped >= d_lo, snapped, d_start)
    keep = d_start < end
    d_lead, d_start, d_stage, d_kind, d_in = (
        a[keep] for a in (d_lead, d_start, d_stage, d_kind, d_in)
    )
    d_mgr = leads["manager"].to_numpy()[d_lead]
    d_phone = phones[leads["client"].to_numpy()[d_lead]]

    # Calls from numbers the CRM does not know: new prospects, wrong numbers, spam.
    n_unknown = round(d_lead.size * 0.08)
    days = (end - start) // DAY
    w = WEEKDAY_CALLS[weekday(start + np.arange(days) * DAY, offset)]
    u_day = rng.choice(days, size=n_unknown, p=w / w.sum())
    u_start = start + u_day * DAY + time_of_day(rng, n_unknown, HOURS_IN)
    u_mgr = rng.integers(0, len(mgr), n_unknown)
    u_phone = (
        79_000_000_000
        + ((n_contacts + rng.integers(0, 5 * n_contacts + 1000, n_unknown)) * 104_729 + 17)
        % 999_999_937
    )

    start_all = np.concatenate([d_start, u_start])
    n_all = start_all.size
    inbound = np.concatenate([d_in, np.ones(n_unknown, bool)])
    kind = np.concatenate([d_kind, np.full(n_unknown, KIND_UNKNOWN)])
    manager = np.concatenate([d_mgr, u_mgr])
    hr = hour(start_all, offset)
    wd = weekday(start_all, offset)
    p_miss = (
        np.where(kind == KIND_UNKNOWN, 0.12, 0.06)
        * np.where((hr < 9) | (hr >= 19), 3.5, 1.0)
        * np.where(wd >= 5, 3.0, 1.0)
        * np.where(in_burnout(mgr, manager, start_all), 1.5, 1.0)
    )
    missed_in = inbound & (rng.random(n_all) < np.minimum(p_miss, 0.85))
    unanswered_out = (~inbound) & (rng.random(n_all) < 0.28)
    answered = ~(missed_in | unanswered_out)
    calls = pd.DataFrame(
        {
            "start": start_all,
            "inbound": inbound,
            "answered": answered,
            "manager": manager,
            "lead": np.concatenate([d_lead, np.full(n_unknown, -1)]),
            "stage": np.concatenate([d_stage, np.full(n_unknown, -1)]),
            "kind": kind,
            "phone": np.concatenate([d_phone, u_phone]),
            "callback_of": -1,
        }
    )
    # Callbacks for missed inbound calls: quickly in office hours, next morning otherwise.
    miss = np.flatnonzero(
        missed_in & (rng.random(n_all) < np.where(kind == KIND_UNKNOWN, 0.45, 0.75))
    )
    ms = start_all[miss]
    office = (hour(ms, offset) >= 9) & (hour(ms, offset) < 19) & (weekday(ms, offset) < 5)
    quick = ms + rng.lognormal(np.log(900), 1.0, miss.size).astype(np.int64)
    local_day = (ms + offset) // DAY + np.where(hour(ms, offset) >= 9, 1, 0)
    local_day = local_day + np.where(
        (local_day + 3) % 7 == 5, 2, np.where((local_day + 3) % 7 == 6, 1, 0)
    )
    morning = (
        local_day * DAY - offset + 9 * 3600 + rng.exponential(2700, miss.size).astype(np.int64)
    )
    cb_start = np.where(office, quick, morning)
    ok = cb_start < end
    cb = calls.iloc[miss[ok]].copy()
    cb["start"] = cb_start[ok]
    cb["inbound"] = False
    cb["answered"] = rng.random(cb.shape[0]) < 0.7
    cb["kind"] = KIND_CALLBACK
    cb["callback_of"] = miss[ok]
    calls = pd.concat([calls, cb], ignore_index=True)

    n_all = calls.shape[0]
    ans = calls["answered"].to_numpy()
    inb = calls["inbound"].to_numpy()
    c_lead = calls["lead"].to_numpy()
    r = np.where(c_lead >= 0, leads["rating"].to_numpy()[np.maximum(c_lead, 0)], 1)
    diff = np.where(
        c_lead >= 0,
        np.array([p.difficulty for p in PROJECTS])[
            leads["project"].to_numpy()[np.maximum(c_lead, 0)]
        ],
        1.0,
    )
    qual = np.isin(STAGE_POS[np.maximum(calls["stage"].to_numpy(), 0)], [2]) & (c_lead >= 0)
    median = (
        95
        * np.array(RATING_TALK)[r]
        * diff
        * np.where(qual, 1.4, 1.0)
        * np.where(calls["kind"].to_numpy() == KIND_UNKNOWN, 0.5, 1.0)
    )
    talk = np.where(ans, np.clip(rng.lognormal(np.log(median), 0.9), 3, 5400), 0).astype(np.int64)
    wait = np.where(
        inb,
        np.where(ans, rng.integers(2, 40, n_all), rng.integers(10, 90, n_all)),
        rng.integers(4, 30, n_all),
    )
    calls["talk"] = talk
    calls["wait"] = wait
    calls["finish_reason"] = _finish(rng, ans, inb)
    calls["crm_linked"] = (c_lead >= 0) & (rng.random(n_all) < 0.95)
    order = np.argsort(calls["start"].to_numpy(), kind="stable")
    remap = np.empty(n_all, dtype=np.int64)
    remap[order] = np.arange(n_all)
    calls = calls.iloc[order].reset_index(drop=True)
    cbo = calls["callback_of"].to_numpy()
    calls["callback_of"] = np.where(cbo >= 0, remap[np.maximum(cbo, 0)], -1)
    # UIS session ids grow with time but are not contiguous (one id space for all accounts).
    calls["uis_id"] = 3_100_000_000 + np.cumsum(rng.integers(1, 40, n_all))
    return calls
