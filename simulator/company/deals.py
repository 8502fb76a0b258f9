"""Leads and their true stage history.

Each lead draws an outcome first (won, lost at some stage, or forgotten), then a duration for
every stage on its path; the history is that path cut at the end of the simulated period, so
deals still in progress are simply open. Forgotten deals stop at a stage and never move again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import (
    AMOCRM,
    LOSS_REASONS,
    PIPELINES,
    PROJECTS,
    RATING_PRICE,
    RATING_SHARE,
    RATING_WIN,
    SOURCES,
)
from funnelhouse.simulator.company.people import in_burnout
from funnelhouse.simulator.company.timing import (
    DAY,
    HOURS_LEADS,
    day_weights,
    time_of_day,
)

# A global stage code: position in this flat list of (pipeline index, stage index).
STAGE_INDEX: list[tuple[int, int]] = [
    (p, s) for p, pipe in enumerate(PIPELINES) for s in range(len(pipe.stages))
]
STAGE_CODE = {ps: i for i, ps in enumerate(STAGE_INDEX)}
STAGE_KIND = np.array([PIPELINES[p].stages[s].kind for p, s in STAGE_INDEX])
STAGE_PIPELINE = np.array([p for p, _ in STAGE_INDEX])
STAGE_POS = np.array([s for _, s in STAGE_INDEX])
STAGE_CALLS = np.array([PIPELINES[p].stages[s].calls for p, s in STAGE_INDEX])

OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2


@dataclass
class Deals:
    leads: pd.DataFrame  # one row per lead, in creation order
    events: pd.DataFrame  # lead, at, stage (global code), the first row per lead is creation


def _pipeline_of(project: np.ndarray, source: np.ndarray) -> np.ndarray:
    partner = np.array([s.kind == "partner" for s in SOURCES])[source]
    amo_pipe = np.where(partner, 2, np.where(np.isin(project, [1, 3]), 1, 0))
    b24_pipe = np.where(project == 5, 4, 3)
    is_amo = np.array([p.crm == AMOCRM for p in PROJECTS])[project]
    return np.where(is_amo, amo_pipe, b24_pipe)


def _assign_managers(
    rng: np.random.Generator, mgr: pd.DataFrame, crm: np.ndarray, created: np.ndarray
) -> np.ndarray:
    """Per month, a manager takes leads in proportion to activity (halved in a burn-out)."""
    out = np.zeros(created.size, dtype=np.int64)
    month = created // (30 * DAY)
    for c in np.unique(crm):
        pool = np.flatnonzero(mgr["crm"].to_numpy() == c)
        for m in np.unique(month[crm == c]):
            rows = np.flatnonzero((crm == c) & (month == m))
            t = np.full(pool.size, int(m) * 30 * DAY + 15 * DAY)
            w = mgr["activity"].to_numpy()[pool] * np.where(in_burnout(mgr, pool, t), 0.5, 1.0)
            w = w * (mgr["hired_at"].to_numpy()[pool] <= t)
            if w.sum() == 0:
                w = np.ones(pool.size)
            out[rows] = rng.choice(pool, size=rows.size, p=w / w.sum())
    return out


def _clients(rng: np.random.Generator, crm: np.ndarray) -> np.ndarray:
    """Client index per lead: ~18 % of leads come from an earlier client of the same CRM."""
    client = np.arange(crm.size)
    for c in np.unique(crm):
        rows = np.flatnonzero(crm == c)
        repeat = rng.random(rows.size) < 0.18
        repeat[0] = False
        earlier = (rng.random(rows.size) * np.arange(rows.size)).astype(np.int64)
        ptr = np.where(repeat, earlier, np.arange(rows.size))
        for _ in range(64):  # pointer jumping: every chain ends at a first-time client
            nxt = ptr[ptr]
            if np.array_equal(nxt, ptr):
                break
            ptr = nxt
        client[rows] = rows[ptr]
    # Renumber clients densely in order of first appearance.
    _, first, inverse = np.unique(client, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


def generate(
    rng: np.random.Generator, mgr: pd.DataFrame, scale: float, start: int, end: int, offset: int
) -> Deals:
    n = max(30, round(10_000 * scale))
    days = (end - start) // DAY
    day = rng.choice(days, size=n, p=day_weights(start, days, offset))
    created = np.sort(start + day * DAY + time_of_day(rng, n, HOURS_LEADS))
    project = rng.choice(len(PROJECTS), size=n, p=[p.share for p in PROJECTS])
    src_p = np.array([s.share for s in SOURCES])
    source = rng.choice(len(SOURCES), size=n, p=src_p / src_p.sum())
    pipeline = _pipeline_of(project, source)
    crm = np.array([PIPELINES[p].crm for p in range(len(PIPELINES))])[pipeline]
    manager = _assign_managers(rng, mgr, crm, created)
    client = _clients(rng, crm)
    n_clients = int(client.max()) + 1
    client_rating = rng.choice(3, size=n_clients, p=RATING_SHARE)
    rating = client_rating[client]
    first_lead = np.full(n_clients, -1)
    first_lead[client[::-1]] = np.arange(n)[::-1]
    repeat = first_lead[client] != np.arange(n)

    base = np.array([p.price for p in PROJECTS])[project] * np.array(RATING_PRICE)[rating]
    price = np.round(base * rng.lognormal(0, 0.35, n), -3)
    price_initial = np.round(price * rng.uniform(0.8, 1.3, n), -3)

    burn = in_burnout(mgr, manager, created)
    skill = mgr["skill"].to_numpy()[manager] * np.where(burn, 0.7, 1.0)
    difficulty = np.array([p.difficulty for p in PROJECTS])[project]
    p_win = (
        0.2
        * np.array([s.win for s in SOURCES])[source]
        * np.array(RATING_WIN)[rating]
        * skill
        / difficulty**1.2
        * np.where(repeat, 1.4, 1.0)
    )
    won = rng.random(n) < np.clip(p_win, 0.01, 0.85)
    forgotten = (~won) & (rng.random(n) < np.where(burn, 0.14, 0.05))
    slow = np.array([1.0, 1.15, 1.3])[rating] * difficulty / skill

    rows_lead, rows_at, rows_stage = [], [], []
    final_at = np.full(n, -1, dtype=np.int64)
    final_kind = np.zeros(n, dtype=np.int64)
    forgotten_at = np.full(n, -1, dtype=np.int64)
    loss_reason = np.full(n, -1, dtype=np.int64)
    for p_idx, pipe in enumerate(PIPELINES):
        rows = np.flatnonzero(pipeline == p_idx)
        if rows.size == 0:
            continue
        k = rows.size
        opens = [i for i, s in enumerate(pipe.stages) if s.kind == "open"]
        medians = np.array([pipe.stages[i].median_days for i in opens])
        lose_p = np.array([pipe.stages[i].lose for i in opens])
        dur = medians * rng.lognormal(0, 0.8, (k, len(opens))) * slow[rows, None] * DAY
        loss_pos = rng.choice(len(opens), size=k, p=lose_p / lose_p.sum())
        depth = np.where(won[rows], len(opens), loss_pos + 1)
        stall = (rng.random(k) * depth).astype(np.int64)
        depth = np.where(forgotten[rows], stall + 1, depth)
        t = created[rows].astype(np.float64)
        if any(s.kind == "unsorted" for s in pipe.stages):
            web = np.isin(source[rows], [0, 2]) & (rng.random(k) < 0.6)
            u = pipe.index("unsorted")
            rows_lead.append(rows[web])
            rows_at.append(created[rows][web])
            rows_stage.append(np.full(web.sum(), STAGE_CODE[(p_idx, u)]))
            t = t + np.where(web, rng.exponential(0.08 * DAY, k), 0.0)
        for j, stage in enumerate(opens):
            visit = depth > j
            rows_lead.append(rows[visit])
            rows_at.append(t[visit].astype(np.int64))
            rows_stage.append(np.full(visit.sum(), STAGE_CODE[(p_idx, stage)]))
            frac = np.where((depth == j + 1) & ~won[rows], rng.uniform(0.3, 1.0, k), 1.0)
            last = depth == j + 1
            forgotten_at[rows[last & forgotten[rows]]] = t[last & forgotten[rows]].astype(np.int64)
            final_at[rows[last]] = (t + dur[:, j] * frac)[last].astype(np.int64)
            t = t + dur[:, j]
        lost_stage = pipe.index("lost")
        apology = [i for i, s in enumerate(pipe.stages) if s.kind == "lost" and i != lost_stage]
        closing = ~forgotten[rows]
        stage_code = np.where(
            won[rows],
            STAGE_CODE[(p_idx, pipe.index("won"))],
            np.where(
                (rng.random(k) < 0.2) & bool(apology),
                STAGE_CODE[(p_idx, apology[0] if apology else lost_stage)],
                STAGE_CODE[(p_idx, lost_stage)],
            ),
        )
        rows_lead.append(rows[closing])
        rows_at.append(final_at[rows[closing]])
        rows_stage.append(stage_code[closing])
        final_kind[rows] = np.where(won[rows], OUTCOME_WON, OUTCOME_LOST)
        if pipe.crm == AMOCRM:
            reasons = np.array([r[0] for r in LOSS_REASONS])
            rp = np.array([r[2] for r in LOSS_REASONS])
            loss_reason[rows] = np.where(won[rows], -1, rng.choice(reasons, size=k, p=rp))
    final_at[forgotten] = -1
    final_kind[forgotten] = OUTCOME_OPEN

    lead = np.concatenate(rows_lead)
    at = np.concatenate(rows_at)
    stage = np.concatenate(rows_stage)
    # Spam and duplicates get deleted within days; nothing happens to them afterwards.
    deleted_at = np.where(rng.random(n) < 0.012, created + rng.integers(2 * 3600, 5 * DAY, n), -1)
    cut = np.where(deleted_at >= 0, deleted_at, end)
    keep = at < cut[lead]
    order = np.lexsort((at[keep], lead[keep]))
    events = pd.DataFrame(
        {"lead": lead[keep][order], "at": at[keep][order], "stage": stage[keep][order]}
    )
    closed_in_time = (final_at >= 0) & (final_at < cut)
    outcome = np.where(closed_in_time, final_kind, OUTCOME_OPEN)
    leads = pd.DataFrame(
        {
            "crm": crm,
            "pipeline": pipeline,
            "project": project,
            "source": source,
            "manager": manager,
            "client": client,
            "rating": rating,
            "repeat": repeat,
            "created_at": created,
            "price": price.astype(np.int64),
            "price_initial": price_initial.astype(np.int64),
            "outcome": outcome,
            "closed_at": np.where(closed_in_time, final_at, -1),
            "loss_reason": np.where(outcome == OUTCOME_LOST, loss_reason, -1),
            "forgotten_at": np.where(forgotten & (deleted_at < 0), forgotten_at, -1),
            "deleted_at": deleted_at,
        }
    )
    return Deals(leads, events)
