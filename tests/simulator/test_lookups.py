"""The emulators' look-ups (product rows by deal, UIS calls by start time) serve exactly what a
scan of every row would, and the UIS export reads each call once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from funnelhouse.simulator.company import Company
from funnelhouse.simulator.emulators.bitrix24 import listing, products
from funnelhouse.simulator.emulators.bitrix24.errors import ApiError
from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24
from funnelhouse.simulator.emulators.timefmt import local
from funnelhouse.simulator.emulators.uis import Uis
from funnelhouse.simulator.emulators.world import World
from funnelhouse.simulator.export import streams


@pytest.mark.parametrize("faults", [{}, {"deletions": {"every": 3}}])
def test_one_deals_product_rows_are_the_filtered_rows_of_all_deals(company: Company, faults):
    emu = Bitrix24(World(company), user_id=1, code="x", faults=faults)
    owners = sorted(set(products.rows(emu).frame["ownerId"].tolist()))
    assert len(owners) > 20
    for owner in [*owners, 0, -1, 10**9, 10**20]:
        flt = {"=ownerType": "D", "=ownerId": str(owner)}
        want = listing.filtered(products.view(emu), flt, products.TYPES, emu.tz)
        got = listing.filtered(products.view(emu, owner), flt, products.TYPES, emu.tz)
        pd.testing.assert_frame_equal(got, want)
    assert products.owner_of({"=ownerId": "1e400"}, emu.tz) is None  # left to the filter
    assert products.owner_of({"=ownerId": ["1", "2"]}, emu.tz) is None


def test_a_deals_rows_follow_the_deals_view(company: Company):
    emu = Bitrix24(World(company), user_id=1, code="x")
    owner = int(products.rows(emu).frame["ownerId"].iloc[0])
    flt = {"filter": {"=ownerType": "D", "=ownerId": owner}}
    assert emu.call("crm.item.productrow.list", flt)["result"]["productRows"]
    emu.faults.set({"deletions": {"every": 1}})  # every deal gone: its rows are refused
    with pytest.raises(ApiError, match="Access denied"):
        emu.call("crm.item.productrow.list", flt)


def _report(emu: Uis, lo: int, hi: int, **extra) -> list[int]:
    params = {"date_from": local(lo, emu.tz), "date_till": local(hi, emu.tz), "limit": 10_000}
    return [r["id"] for r in emu.calls_report({**params, "fields": ["id"], **extra})["data"]]


def test_uis_windows_are_the_calls_a_scan_finds(company: Company):
    emu = Uis(World(company), token="t")
    calls = company.calls
    start = calls["start"].to_numpy()
    talk = calls["talk"].to_numpy()
    seen = emu.finish <= emu.world.clock
    ids = calls["uis_id"].to_numpy()
    for lo, hi in [(int(start.min()), int(start.min()) + 40 * 86_400),
                   (int(np.median(start)), int(np.median(start)) + 30 * 86_400),
                   (int(start[5]), int(start[5]))]:  # fmt: skip
        rows = np.flatnonzero(seen & (start >= lo) & (start <= hi))
        assert rows.size > 0
        by_start = rows[np.lexsort((ids[rows], start[rows]))]
        assert _report(emu, lo, hi) == ids[by_start].tolist()
        by_talk = rows[np.lexsort((ids[rows], -talk[rows]))]
        sort = [{"field": "talk_duration", "order": "desc"}]
        assert _report(emu, lo, hi, sort=sort) == ids[by_talk].tolist()


def test_uis_export_reads_every_call_once_in_start_order(company: Company):
    calls = company.calls
    clock = company.cfg.initial_clock
    finish = (calls["start"] + calls["wait"] + calls["talk"]).to_numpy()
    rows = np.flatnonzero(finish <= clock)
    ids, start = calls["uis_id"].to_numpy()[rows], calls["start"].to_numpy()[rows]
    exported = [r["id"] for r in streams(company, clock)["uis"]["calls"]]
    assert exported == ids[np.lexsort((ids, start))].tolist()
