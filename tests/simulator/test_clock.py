"""Advancing the emulators' clock yields new and updated records, as incremental sync needs."""

from __future__ import annotations

import requests

from tests.simulator.conftest import b24, uis


def test_admin_clock(sources):
    url = f"{sources.uis_url.rsplit('/', 1)[0]}/__admin/clock"
    info = requests.get(url, timeout=5).json()
    assert info["unix"] == sources.cfg.initial_clock
    moved = requests.post(url, json={"advance_days": 2}, timeout=5).json()
    assert moved["unix"] == sources.cfg.initial_clock + 2 * 86_400 == sources.clock
    requests.post(url, json={"now": "2026-10-25T12:00:00"}, timeout=5)
    assert sources.clock == sources.cfg.end_ts - 6 * 86_400 - 12 * 3600


def test_advance_brings_new_and_updated_leads(sources, amo):
    t0 = sources.clock
    url = f"{sources.amocrm_url}/api/v4/leads"

    def read(frm: int) -> dict[int, dict]:
        out, page = {}, 1
        while True:
            r = amo.get(url, params={"filter[updated_at][from]": frm, "limit": 250, "page": page})
            if r.status_code == 204:
                return out
            body = r.json()
            out.update({x["id"]: x for x in body["_embedded"]["leads"]})
            if "next" not in body["_links"]:
                return out
            page += 1

    before = read(0)
    assert all(x["created_at"] <= t0 for x in before.values())
    sources.advance(days=10)
    changed = read(t0 + 1)
    new = [i for i in changed if i not in before]
    updated = [i for i in changed if i in before]
    assert new and updated
    assert any(changed[i]["status_id"] != before[i]["status_id"] for i in updated)


def test_advance_in_every_system(sources, onec):
    def counts() -> tuple[int, int, int, dict]:
        calls = uis(
            sources,
            "get.calls_report",
            {"date_from": "2026-10-01 00:00:00", "date_till": "2026-11-01 00:00:00", "limit": 1},
        ).json()
        hist = b24(sources, "crm.stagehistory.list", {"entityTypeId": 2}).json()["total"]
        vox = b24(sources, "voximplant.statistic.get").json()["total"]
        docs = onec.get(
            f"{sources.onec_url}/Document_РеализацияТоваровУслуг",
            params={"$format": "json", "$select": "Ref_Key,DataVersion"},
        ).json()["value"]
        return (
            calls["result"]["metadata"]["total_items"],
            hist,
            vox,
            {d["Ref_Key"]: d["DataVersion"] for d in docs},
        )

    c0, h0, v0, d0 = counts()
    sources.advance(days=14)
    c1, h1, v1, d1 = counts()
    assert c1 > c0 and h1 > h0 and v1 > v0
    assert len(d1) > len(d0)
    sources.set_clock(sources.cfg.initial_clock + 200 * 86_400)  # far ahead: old documents edited
    _, _, _, d2 = counts()
    assert any(d2[k] != v for k, v in d0.items() if k in d2)
