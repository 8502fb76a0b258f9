"""Bitrix24 emulator against SOURCE_APIS.md §2: webhook URL, pages of 50, batch, types, limits."""

from __future__ import annotations

import re

import requests

from tests.simulator.conftest import b24

OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def test_deal_list_pages_of_50_with_string_numbers(sources):
    body = b24(sources, "crm.deal.list", {"select": ["*", "UF_*"]}).json()
    assert set(body) >= {"result", "total", "next", "time"}
    assert len(body["result"]) == 50 and body["next"] == 50 and body["total"] > 50
    deal = body["result"][0]
    for key in ("ID", "CATEGORY_ID", "ASSIGNED_BY_ID", "OPPORTUNITY", "COMPANY_ID"):
        assert isinstance(deal[key], str)
    assert re.fullmatch(r"\d+\.\d\d", deal["OPPORTUNITY"])
    assert deal["STAGE_SEMANTIC_ID"] in ("P", "S", "F") and deal["CLOSED"] in ("Y", "N")
    assert OFFSET.match(deal["DATE_CREATE"]) and deal["DATE_CREATE"].endswith("+02:00")
    assert "UF_CRM_RATING" in deal
    plain = b24(sources, "crm.deal.list").json()["result"][0]
    assert "UF_CRM_RATING" not in plain
    last_start = (body["total"] - 1) // 50 * 50
    last = b24(sources, "crm.deal.list", {"start": last_start}).json()
    assert "next" not in last and 0 < len(last["result"]) <= 50


def test_get_with_php_style_query_and_keyset_mode(sources):
    r = requests.get(
        f"{sources.bitrix24_webhook_url}crm.deal.list.json",
        params={"filter[>ID]": 10, "order[ID]": "ASC", "start": -1},
        timeout=5,
    )
    body = r.json()
    assert body["total"] == 0 and "next" not in body
    ids = [int(d["ID"]) for d in body["result"]]
    assert ids == sorted(ids) and min(ids) > 10 and len(ids) <= 50


def test_stage_history_has_ints(sources):
    body = b24(sources, "crm.stagehistory.list", {"entityTypeId": 2, "order": {"ID": "ASC"}}).json()
    item = body["result"]["items"][0]
    assert all(isinstance(item[k], int) for k in ("ID", "TYPE_ID", "OWNER_ID", "CATEGORY_ID"))
    assert item["TYPE_ID"] in (1, 2, 3, 5) and OFFSET.match(item["CREATED_TIME"])
    bad = b24(sources, "crm.stagehistory.list", {"entityTypeId": 7})
    assert bad.status_code == 400 and bad.json()["error"] == "ENTITY_TYPE_NOT_SUPPORTED"


def test_statuses_categories_users(sources):
    stages = b24(sources, "crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE_1"}}).json()[
        "result"
    ]
    assert stages and all(s["STATUS_ID"].startswith("C1:") for s in stages)
    sem = {s["STATUS_ID"]: s["SEMANTICS"] for s in stages}
    assert sem["C1:WON"] == "S" and sem["C1:LOSE"] == "F" and sem["C1:NEW"] is None
    cats = b24(sources, "crm.category.list", {"entityTypeId": 2}).json()["result"]["categories"]
    assert cats[0]["id"] == 0 and cats[0]["isDefault"] == "Y"
    users = b24(sources, "user.get").json()["result"]
    assert {"ID", "ACTIVE", "NAME", "LAST_NAME", "EMAIL", "UF_DEPARTMENT", "USER_TYPE"} <= set(
        users[0]
    )
    assert users[0]["ACTIVE"] is True


def test_calls_link_to_deals_through_activities(sources, company):
    calls = b24(
        sources, "voximplant.statistic.get", {"FILTER": {">ID": 0}, "SORT": "ID", "ORDER": "ASC"}
    ).json()["result"]
    assert calls and all(
        isinstance(c["CALL_DURATION"], str) and c["CALL_TYPE"] in ("1", "2") for c in calls
    )
    uis_ids = set(company.calls["uis_id"].astype(str))
    assert all(c["EXTERNAL_CALL_ID"] in uis_ids for c in calls)
    linked = [c for c in calls if c["CRM_ACTIVITY_ID"]]
    acts = b24(
        sources, "crm.activity.list", {"filter": {"ID": linked[0]["CRM_ACTIVITY_ID"]}}
    ).json()["result"]
    assert acts[0]["OWNER_TYPE_ID"] == "2" and acts[0]["PROVIDER_ID"] == "VOXIMPLANT_CALL"
    assert acts[0]["ORIGIN_ID"].endswith(linked[0]["CALL_ID"])


def test_batch(sources):
    cmd = {f"p{i}": f"crm.deal.list?start={i * 50}&order[ID]=ASC" for i in range(3)}
    cmd["bad"] = "no.such.method"
    body = b24(sources, "batch", {"halt": 0, "cmd": cmd}).json()
    res = body["result"]
    assert set(res) == {"result", "result_error", "result_total", "result_next", "result_time"}
    assert len(res["result"]["p0"]) == 50 and res["result_next"]["p0"] == 50
    assert res["result_error"]["bad"]["error"] == "ERROR_METHOD_NOT_FOUND"
    ok = b24(sources, "batch", {"cmd": {"a": "crm.category.list?entityTypeId=2"}}).json()
    assert ok["result"]["result_error"] == []  # PHP's empty array
    too_many = b24(sources, "batch", {"cmd": {f"c{i}": "user.get" for i in range(51)}})
    assert too_many.status_code == 400 and too_many.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_errors_and_auth(sources):
    r = requests.post(
        sources.bitrix24_webhook_url.replace(sources.credentials.bitrix24_code, "nope")
        + "crm.deal.list.json",
        json={},
        timeout=5,
    )
    assert r.status_code == 401 and set(r.json()) == {"error", "error_description"}
    r = b24(sources, "no.such.method")
    assert r.status_code == 404 and r.json()["error"] == "ERROR_METHOD_NOT_FOUND"
    r = b24(sources, "crm.deal.list", {"filter": "x"})
    assert (
        r.status_code == 400
        and r.json()["error_description"] == "Parameter 'filter' must be array."
    )


def test_leaky_bucket_gives_503_query_limit_exceeded(strict_sources):
    codes = [b24(strict_sources, "user.get") for _ in range(56)]
    limited = [r for r in codes if r.status_code == 503]
    assert limited and sum(r.status_code == 200 for r in codes) >= 50
    assert limited[0].json() == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }
