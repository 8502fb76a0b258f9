"""Every switchable fault, toggled at runtime through the admin endpoint or the Python API."""

from __future__ import annotations

import time

import pytest
import requests

from funnelhouse.simulator.emulators.faults import FaultError, parse
from funnelhouse.simulator.emulators.server import split_faults
from tests.simulator.conftest import b24, uis

MONTH = {"date_from": "2026-09-01 00:00:00", "date_till": "2026-10-01 00:00:00"}


def leads(sources, amo, **params):
    return amo.get(f"{sources.amocrm_url}/api/v4/leads", params={"limit": 20, **params}, timeout=10)


def test_admin_endpoint_sets_and_clears_faults(sources, amo):
    admin = f"{sources.amocrm_url}/__admin/faults"
    r = requests.post(admin, json={"faults": {"429_storm": {"count": 2}}}, timeout=5)
    assert r.json()["faults"]["429_storm"]["count"] == 2
    assert [leads(sources, amo).status_code for _ in range(3)] == [429, 429, 200]
    requests.post(admin, json={"faults": "503_storm:count=1"}, timeout=5)
    assert leads(sources, amo).status_code == 503
    assert requests.delete(admin, timeout=5).json() == {"faults": {}}
    assert requests.post(admin, json={"nope": {}}, timeout=5).status_code == 400


def test_storms_use_each_api_answer(sources, amo):
    sources.set_faults("429_storm:count=1,503_storm:count=1")
    r = b24(sources, "user.get")
    assert r.status_code == 429 and r.json()["error"] == "OPERATION_TIME_LIMIT"
    assert b24(sources, "user.get").json()["error"] == "QUERY_LIMIT_EXCEEDED"
    e = uis(sources, "get.account", {}).json()["error"]
    assert e["code"] == -32029
    r = leads(sources, amo)
    assert r.status_code == 429
    with pytest.raises(ValueError):
        r.json()


def test_server_error_every_kth(sources, onec):
    sources.set_faults({"5xx": {"every": 2}}, only="onec")
    codes = [
        onec.get(
            f"{sources.onec_url}/Catalog_Контрагенты", params={"$format": "json", "$top": 1}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 500, 200, 500]
    sources.set_faults({"server_error": {"every": 1}}, only="bitrix24")
    assert b24(sources, "user.get").json()["error"] == "INTERNAL_SERVER_ERROR"


def test_slow_and_timeout(sources, amo):
    sources.set_faults("slow:delay=0.3")
    t0 = time.perf_counter()
    assert leads(sources, amo).status_code == 200
    assert time.perf_counter() - t0 >= 0.3
    sources.set_faults("timeout:delay=3:count=1")
    with pytest.raises(requests.Timeout):
        amo.get(f"{sources.amocrm_url}/api/v4/users", timeout=0.5)
    sources.set_faults(None)
    time.sleep(0.05)


def test_truncated_and_malformed_json(sources, amo):
    sources.set_faults("truncated_json:every=1")
    r = leads(sources, amo)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
    with pytest.raises(ValueError):
        r.json()
    sources.set_faults("malformed_json:every=2")
    assert leads(sources, amo).json()
    with pytest.raises(ValueError):
        leads(sources, amo).json()


def test_duplicate_pages(sources, amo):
    plain = [
        x["id"] for p in (1, 2) for x in leads(sources, amo, page=p).json()["_embedded"]["leads"]
    ]
    sources.set_faults("duplicate_pages:overlap=2")
    p1 = [x["id"] for x in leads(sources, amo, page=1).json()["_embedded"]["leads"]]
    p2 = [x["id"] for x in leads(sources, amo, page=2).json()["_embedded"]["leads"]]
    assert p2[:2] == p1[-2:] and p1 + p2[2:] == plain[: len(p1) + len(p2) - 2]
    body = b24(sources, "crm.deal.list", {"start": 50}).json()["result"]
    first = b24(sources, "crm.deal.list", {"start": 0}).json()["result"]
    assert body[:2] == first[-2:]


def test_update_while_paging_moves_read_records(sources, amo):
    sources.set_faults("update_while_paging:count=3")
    first = leads(sources, amo, **{"order[updated_at]": "asc"}).json()["_embedded"]["leads"]
    second = leads(sources, amo, **{"order[updated_at]": "asc"}).json()["_embedded"]["leads"]
    moved = {x["id"] for x in first[:3]}
    assert moved.isdisjoint(x["id"] for x in second)
    newest = leads(sources, amo, **{"filter[updated_at][from]": sources.clock}).json()["_embedded"][
        "leads"
    ]
    assert moved <= {x["id"] for x in newest}


def test_deletions(sources, amo, onec):
    before = {x["id"] for x in leads(sources, amo, limit=250).json()["_embedded"]["leads"]}
    sources.set_faults("deletions:every=5")
    after = {x["id"] for x in leads(sources, amo, limit=250).json()["_embedded"]["leads"]}
    gone = before - after
    assert gone
    deleted = leads(sources, amo, limit=250, **{"with": "only_deleted"}).json()["_embedded"][
        "leads"
    ]
    assert gone <= {x["id"] for x in deleted}
    n = len(
        onec.get(f"{sources.onec_url}/Catalog_Контрагенты", params={"$format": "json"}).json()[
            "value"
        ]
    )
    sources.set_faults(None)
    m = len(
        onec.get(f"{sources.onec_url}/Catalog_Контрагенты", params={"$format": "json"}).json()[
            "value"
        ]
    )
    assert n < m


def test_schema_drift(sources, amo, onec):
    sources.set_faults("new_field:name=brand_new,retyped_field")
    lead = leads(sources, amo).json()["_embedded"]["leads"][0]
    assert "brand_new" in lead and isinstance(lead["price"], str)
    deal = b24(sources, "crm.deal.list").json()["result"][0]
    assert isinstance(deal["OPPORTUNITY"], float) and "brand_new" in deal
    call = uis(sources, "get.calls_report", {**MONTH, "limit": 1}).json()["result"]["data"][0]
    assert isinstance(call["talk_duration"], str) and "brand_new" in call
    doc = onec.get(
        f"{sources.onec_url}/Document_РеализацияТоваровУслуг", params={"$format": "json", "$top": 1}
    ).json()["value"][0]
    assert isinstance(doc["СуммаДокумента"], str)


def test_data_defects(sources, amo):
    sources.set_faults(
        "null_ids:every=10,future_dates:every=7,unknown_stage_ids:every=9,duplicate_ids:every=11"
    )
    rows = leads(sources, amo, limit=250).json()["_embedded"]["leads"]
    ids = [x["id"] for x in rows]
    assert None in ids
    real = [i for i in ids if i is not None]
    assert len(real) > len(set(real))
    assert any(x["created_at"] > sources.clock for x in rows)
    assert any(x["status_id"] == 99_999_999 for x in rows)
    sources.set_faults("negative_durations:every=3")
    calls = uis(sources, "get.calls_report", {**MONTH, "limit": 100}).json()["result"]["data"]
    assert any(c["talk_duration"] < 0 for c in calls)
    vox = b24(sources, "voximplant.statistic.get").json()["result"]
    assert any(v["CALL_DURATION"].startswith("-") for v in vox)
    again = uis(sources, "get.calls_report", {**MONTH, "limit": 100}).json()["result"]["data"]
    assert [c["talk_duration"] for c in again] == [
        c["talk_duration"] for c in calls
    ]  # deterministic


def test_fault_spec_parsing():
    assert parse("429_storm:count=5,slow:delay=0.2") == {
        "429_storm": {"count": 5},
        "slow": {"delay": 0.2},
    }
    per = split_faults("amocrm.slow,null_ids")
    assert per["amocrm"] == {"slow": {}, "null_ids": {}} and per["uis"] == {"null_ids": {}}
    with pytest.raises(ValueError):
        split_faults("nowhere.slow")
    from funnelhouse.simulator.emulators.faults import FaultSet

    with pytest.raises(FaultError):
        FaultSet().set({"no_such_fault": {}})
