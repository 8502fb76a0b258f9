"""What each CRM stores about the deals: ids, events, notes, tasks, stage history, call records.

Derived from the true model (leads, stage events, calls) so that the CRMs and the telephony
tell one consistent story, with the gaps real integrations have (a few calls never reach the
CRM). Ids grow with creation time, as in both systems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.calls import KIND_UNKNOWN
from funnelhouse.simulator.company.deals import STAGE_KIND, STAGE_POS, Deals
from funnelhouse.simulator.company.directory import AMOCRM, BITRIX24
from funnelhouse.simulator.company.timing import DAY

EV_ADDED, EV_STATUS, EV_DELETED = 0, 1, 2


@dataclass
class CrmTables:
    amo_events: pd.DataFrame  # lead, at, type, before, after (stage codes), seq
    amo_notes: pd.DataFrame  # lead, at, call (row in calls or -1), note_type, id
    amo_tasks: pd.DataFrame  # lead, at, till, done_at, type, id
    b24_history: pd.DataFrame  # lead, at, stage, type_id, id
    b24_calls: pd.DataFrame  # call (row in calls), id, activity (id or -1)
    b24_activities: pd.DataFrame  # lead, at, end, type_id, call (row or -1), id, direction


def _ids(rng: np.random.Generator, base: int, n: int, gap: int) -> np.ndarray:
    return base + np.cumsum(rng.integers(1, gap + 1, n)) if gap > 1 else base + np.arange(1, n + 1)


def crm_ids(rng: np.random.Generator, leads: pd.DataFrame) -> np.ndarray:
    """amoCRM lead ids (large, gapped: one id space per account) and Bitrix24 deal ids."""
    out = np.zeros(len(leads), dtype=np.int64)
    amo = leads["crm"].to_numpy() == AMOCRM
    out[amo] = _ids(rng, 24_000_000, int(amo.sum()), 3)
    out[~amo] = _ids(rng, 0, int((~amo).sum()), 1)
    return out


def build(
    rng: np.random.Generator, deals: Deals, calls: pd.DataFrame, mgr: pd.DataFrame, end: int
) -> CrmTables:
    leads = deals.leads
    ev = deals.events
    crm = leads["crm"].to_numpy()
    lead = ev["lead"].to_numpy()
    first = np.r_[True, lead[1:] != lead[:-1]]
    prev_stage = np.r_[-1, ev["stage"].to_numpy()[:-1]]

    # amoCRM events: lead_added, lead_status_changed for every move, lead_deleted.
    amo_ev = crm[lead] == AMOCRM
    e = pd.DataFrame(
        {
            "lead": lead,
            "at": ev["at"].to_numpy(),
            "type": np.where(first, EV_ADDED, EV_STATUS),
            "before": np.where(first, -1, prev_stage),
            "after": ev["stage"].to_numpy(),
        }
    )[amo_ev]
    deleted = np.flatnonzero((crm == AMOCRM) & (leads["deleted_at"].to_numpy() >= 0))
    e = pd.concat(
        [
            e,
            pd.DataFrame(
                {
                    "lead": deleted,
                    "at": leads["deleted_at"].to_numpy()[deleted],
                    "type": EV_DELETED,
                    "before": -1,
                    "after": -1,
                }
            ),
        ]
    )
    e = e.sort_values(["at", "lead"], kind="stable", ignore_index=True)
    e["seq"] = np.arange(len(e))

    # Call notes (the PBX integration writes them a few seconds after the call) and some
    # plain text notes.
    c_lead = calls["lead"].to_numpy()
    linked = (c_lead >= 0) & calls["crm_linked"].to_numpy()
    amo_call = np.flatnonzero(linked & (crm[np.maximum(c_lead, 0)] == AMOCRM))
    finish = (calls["start"] + calls["wait"] + calls["talk"]).to_numpy()
    n_common = rng.poisson(0.6, int((crm == AMOCRM).sum()))
    common_lead = np.repeat(np.flatnonzero(crm == AMOCRM), n_common)
    life = np.maximum(leads["closed_at"].to_numpy(), leads["created_at"].to_numpy() + 3 * DAY)
    c_at = leads["created_at"].to_numpy()[common_lead] + (
        rng.random(common_lead.size)
        * (life[common_lead] - leads["created_at"].to_numpy()[common_lead])
    ).astype(np.int64)
    notes = pd.DataFrame(
        {
            "lead": np.concatenate([c_lead[amo_call], common_lead]),
            "at": np.concatenate([finish[amo_call] + rng.integers(2, 30, amo_call.size), c_at]),
            "call": np.concatenate([amo_call, np.full(common_lead.size, -1)]),
            "note_type": np.concatenate(
                [
                    np.where(calls["inbound"].to_numpy()[amo_call], "call_in", "call_out"),
                    np.full(common_lead.size, "common"),
                ]
            ),
        }
    )
    dl = leads["deleted_at"].to_numpy()[notes["lead"].to_numpy()]
    notes = notes[(notes["at"] < end) & ((dl < 0) | (notes["at"] < dl))]
    notes = notes.sort_values(["at", "lead"], kind="stable", ignore_index=True)
    notes["id"] = _ids(rng, 180_000_000, len(notes), 5)
    # Some PBX widgets write the duration as a string ("120"); connectors must cope.
    notes["duration_as_text"] = rng.random(len(notes)) < 0.03

    # Tasks: a follow-up at every open stage, completed when the deal moves on.
    is_open = (STAGE_KIND[ev["stage"].to_numpy()] == "open") & amo_ev
    nxt_at = np.r_[ev["at"].to_numpy()[1:], -1]
    nxt_same = np.r_[lead[1:] == lead[:-1], False]
    t_idx = np.flatnonzero(is_open)
    t_at = ev["at"].to_numpy()[t_idx] + rng.integers(60, 3600, t_idx.size)
    till = t_at + rng.integers(1, 4, t_idx.size) * DAY
    done = np.where(nxt_same[t_idx], np.maximum(nxt_at[t_idx], t_at + 60), -1)
    tasks = pd.DataFrame(
        {
            "lead": lead[t_idx],
            "at": t_at,
            "till": till,
            "done_at": np.where(done < end, done, -1),
            "type": rng.choice([1, 2], t_idx.size, p=[0.8, 0.2]),
        }
    )
    tdl = leads["deleted_at"].to_numpy()[tasks["lead"].to_numpy()]
    tasks = tasks[(tasks["at"] < end) & ((tdl < 0) | (tasks["at"] < tdl))]
    tasks = tasks.sort_values(["at", "lead"], kind="stable", ignore_index=True)
    tasks["id"] = _ids(rng, 52_000_000, len(tasks), 4)

    # Bitrix24 stage history: TYPE_ID 1 created, 2 intermediate stage, 3 final stage.
    b24 = crm[lead] == BITRIX24
    final = np.isin(STAGE_KIND[ev["stage"].to_numpy()], ["won", "lost"])
    h = pd.DataFrame(
        {
            "lead": lead,
            "at": ev["at"].to_numpy(),
            "stage": ev["stage"].to_numpy(),
            "type_id": np.where(first, 1, np.where(final, 3, 2)),
        }
    )[b24]
    h = h.sort_values(["at", "lead"], kind="stable", ignore_index=True)
    h["id"] = np.arange(1, len(h) + 1)

    # Bitrix24 telephony: every call a Bitrix24 manager handles is registered as an external
    # call; linked ones get a CRM activity bound to the deal.
    b24_mgr = mgr["crm"].to_numpy() == BITRIX24
    v_call = np.flatnonzero(
        b24_mgr[calls["manager"].to_numpy()]
        & ((c_lead < 0) | (crm[np.maximum(c_lead, 0)] == BITRIX24))
    )
    v_linked = linked[v_call] & (calls["kind"].to_numpy()[v_call] != KIND_UNKNOWN)
    # Meetings for deals that reach the third stage.
    meet_ev = np.flatnonzero(
        b24 & (STAGE_POS[ev["stage"].to_numpy()] == 2) & (rng.random(len(ev)) < 0.5)
    )
    acts = pd.DataFrame(
        {
            "lead": np.concatenate([c_lead[v_call[v_linked]], lead[meet_ev]]),
            "at": np.concatenate(
                [
                    calls["start"].to_numpy()[v_call[v_linked]],
                    ev["at"].to_numpy()[meet_ev] + rng.integers(DAY, 4 * DAY, meet_ev.size),
                ]
            ),
            "end": np.concatenate([finish[v_call[v_linked]], np.zeros(meet_ev.size, np.int64)]),
            "type_id": np.concatenate([np.full(v_linked.sum(), 2), np.full(meet_ev.size, 1)]),
            "call": np.concatenate([v_call[v_linked], np.full(meet_ev.size, -1)]),
        }
    )
    acts.loc[acts["type_id"] == 1, "end"] = acts["at"] + 3600
    acts = acts[acts["at"] < end].sort_values(["at", "lead"], kind="stable", ignore_index=True)
    acts["id"] = _ids(rng, 100, len(acts), 2)
    activity_of_call = pd.Series(acts["id"].to_numpy(), index=acts["call"].to_numpy())
    activity_of_call = activity_of_call[activity_of_call.index >= 0]
    vox = pd.DataFrame({"call": v_call})
    vox["id"] = np.arange(1, len(vox) + 1)
    vox["activity"] = activity_of_call.reindex(v_call).fillna(-1).astype(np.int64).to_numpy()
    return CrmTables(e, notes, tasks, h, vox, acts)
