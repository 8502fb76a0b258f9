"""amoCRM v4 emulator against SOURCE_APIS.md §1: envelope, paging end, types, errors, limits."""

from __future__ import annotations

import time

import requests

from funnelhouse.simulator.company.directory import AMOCRM, PIPELINES

LEAD_FIELDS = {
    "id",
    "name",
    "price",
    "responsible_user_id",
    "group_id",
    "status_id",
    "pipeline_id",
    "loss_reason_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "closed_at",
    "closest_task_at",
    "is_deleted",
    "custom_fields_values",
    "score",
    "account_id",
    "_links",
    "_embedded",
}


def test_leads_envelope_fields_and_types(sources, amo):
    r = amo.get(
        f"{sources.amocrm_url}/api/v4/leads", params={"limit": 5, "with": "contacts,loss_reason"}
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/hal+json")
    body = r.json()
    assert set(body) == {"_page", "_links", "_embedded"} and body["_page"] == 1
    assert "next" in body["_links"] and body["_links"]["self"]["href"].startswith("http")
    leads = body["_embedded"]["leads"]
    assert len(leads) == 5
    for lead in leads:
        assert set(lead) >= LEAD_FIELDS
        assert all(
            isinstance(lead[k], int)
            for k in ("id", "price", "created_at", "updated_at", "status_id")
        )
        assert lead["closed_at"] is None or isinstance(lead["closed_at"], int)
        assert lead["updated_at"] >= lead["created_at"]
        assert {"tags", "companies", "contacts", "loss_reason"} <= set(lead["_embedded"])
        if lead["status_id"] == 143:
            assert (
                lead["loss_reason_id"]
                and lead["_embedded"]["loss_reason"][0]["id"] == lead["loss_reason_id"]
            )
    assert all(lead["updated_at"] <= sources.clock for lead in leads)


def test_last_page_has_no_next_and_past_the_end_is_204(sources, amo):
    url = f"{sources.amocrm_url}/api/v4/leads"
    page, seen = 1, []
    while True:
        body = amo.get(url, params={"limit": 250, "page": page}).json()
        seen += [x["id"] for x in body["_embedded"]["leads"]]
        if "next" not in body["_links"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) > 0
    past = amo.get(url, params={"limit": 250, "page": page + 1})
    assert past.status_code == 204 and past.content == b""
    empty = amo.get(url, params={"filter[updated_at][from]": 1, "filter[updated_at][to]": 2})
    assert empty.status_code == 204 and empty.content == b""


def test_updated_at_window_and_order(sources, amo):
    frm = sources.clock - 30 * 86_400
    body = amo.get(
        f"{sources.amocrm_url}/api/v4/leads",
        params={
            "filter[updated_at][from]": frm,
            "filter[updated_at][to]": sources.clock,
            "order[updated_at]": "asc",
            "limit": 250,
        },
    ).json()
    stamps = [x["updated_at"] for x in body["_embedded"]["leads"]]
    assert stamps == sorted(stamps) and all(frm <= s <= sources.clock for s in stamps)


def test_limits_are_validated(sources, amo):
    r = amo.get(f"{sources.amocrm_url}/api/v4/leads", params={"limit": 251})
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 400 and body["validation-errors"][0]["errors"][0]["path"] == "limit"
    assert amo.get(f"{sources.amocrm_url}/api/v4/events", params={"limit": 101}).status_code == 400
    assert amo.get(f"{sources.amocrm_url}/api/v4/events", params={"limit": 100}).status_code == 200


def test_auth_failure_is_401_problem_json(sources):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = requests.get(f"{sources.amocrm_url}/api/v4/leads", headers=headers, timeout=5)
        assert r.status_code == 401
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert r.json()["status"] == 401 and r.json()["title"] == "Unauthorized"


def test_pipelines_have_142_and_143_everywhere(sources, amo):
    body = amo.get(f"{sources.amocrm_url}/api/v4/leads/pipelines").json()
    pipes = body["_embedded"]["pipelines"]
    assert body["_total_items"] == len(pipes) == sum(p.crm == AMOCRM for p in PIPELINES)
    for p in pipes:
        assert {
            "id",
            "name",
            "sort",
            "is_main",
            "is_unsorted_on",
            "is_archive",
            "account_id",
        } <= set(p)
        ids = {s["id"] for s in p["_embedded"]["statuses"]}
        assert {142, 143} <= ids
        for s in p["_embedded"]["statuses"]:
            assert {
                "id",
                "name",
                "sort",
                "is_editable",
                "pipeline_id",
                "color",
                "type",
                "account_id",
            } <= set(s)


def test_status_events_and_stage_filter(sources, amo):
    url = f"{sources.amocrm_url}/api/v4/events"
    body = amo.get(url, params={"filter[type]": "lead_status_changed", "limit": 100}).json()
    ev = body["_embedded"]["events"][0]
    assert isinstance(ev["id"], str) and len(ev["id"]) == 26
    assert ev["entity_type"] == "lead" and ev["type"] == "lead_status_changed"
    assert set(ev["value_after"][0]["lead_status"]) == {"id", "pipeline_id"}
    won = amo.get(
        url,
        params={
            "filter[type]": "lead_status_changed",
            "filter[value_after][leads_statuses][0][pipeline_id]": PIPELINES[0].id,
            "filter[value_after][leads_statuses][0][status_id]": 142,
            "limit": 100,
        },
    ).json()["_embedded"]["events"]
    assert won and all(
        e["value_after"][0]["lead_status"] == {"id": 142, "pipeline_id": PIPELINES[0].id}
        for e in won
    )


def test_call_notes_carry_uis_ids(sources, amo, company):
    body = amo.get(
        f"{sources.amocrm_url}/api/v4/leads/notes",
        params={"filter[note_type][]": ["call_in", "call_out"], "limit": 250},
    ).json()
    notes = body["_embedded"]["notes"]
    assert notes and {n["note_type"] for n in notes} <= {"call_in", "call_out"}
    uis_ids = set(company.calls["uis_id"].astype(str))
    for n in notes:
        assert set(n["params"]) >= {
            "uniq",
            "duration",
            "source",
            "link",
            "phone",
            "call_result",
            "call_status",
        }
        assert n["params"]["uniq"] in uis_ids and 1 <= n["params"]["call_status"] <= 8
    common = amo.get(
        f"{sources.amocrm_url}/api/v4/leads/notes", params={"filter[note_type]": "common"}
    ).json()
    assert all(n["note_type"] == "common" for n in common["_embedded"]["notes"])


def test_contacts_phones_and_company_inn(sources, amo):
    contacts = amo.get(f"{sources.amocrm_url}/api/v4/contacts", params={"limit": 50}).json()[
        "_embedded"
    ]["contacts"]
    phones = [
        v["value"]
        for c in contacts
        for f in (c["custom_fields_values"] or [])
        if f["field_code"] == "PHONE"
        for v in f["values"]
    ]
    assert phones and all(p.startswith("+79") and len(p) == 12 for p in phones)
    assert any(c["custom_fields_values"] is None for c in contacts) or len(contacts) < 23
    companies = amo.get(f"{sources.amocrm_url}/api/v4/companies", params={"limit": 50}).json()[
        "_embedded"
    ]["companies"]
    inns = [
        f["values"][0]["value"]
        for c in companies
        for f in c["custom_fields_values"]
        if f["field_name"] == "ИНН"
    ]
    assert inns and all(i.isdigit() and len(i) in (10, 12) for i in inns)


def test_only_deleted(sources, amo, company):
    sources.set_clock(company.cfg.end_ts)
    body = amo.get(
        f"{sources.amocrm_url}/api/v4/leads", params={"with": "only_deleted", "limit": 250}
    ).json()
    deleted = body["_embedded"]["leads"]
    assert deleted and all(x["is_deleted"] for x in deleted)
    live = amo.get(f"{sources.amocrm_url}/api/v4/leads", params={"filter[id]": deleted[0]["id"]})
    assert live.status_code == 204


def test_users_tasks_loss_reasons(sources, amo):
    users = amo.get(f"{sources.amocrm_url}/api/v4/users").json()["_embedded"]["users"]
    assert {"id", "name", "email", "lang", "rights", "uuid", "amojo_id"} <= set(users[0])
    tasks = amo.get(f"{sources.amocrm_url}/api/v4/tasks", params={"limit": 10}).json()["_embedded"][
        "tasks"
    ]
    assert {
        "id",
        "entity_id",
        "entity_type",
        "is_completed",
        "task_type_id",
        "complete_till",
    } <= set(tasks[0])
    reasons = amo.get(f"{sources.amocrm_url}/api/v4/leads/loss_reasons").json()["_embedded"][
        "loss_reasons"
    ]
    assert {"id", "name", "sort", "created_at", "updated_at"} <= set(reasons[0])


def test_429_is_not_json_over_7_per_second(strict_sources):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {strict_sources.credentials.amocrm_token}"
    url = f"{strict_sources.amocrm_url}/api/v4/users"
    codes = [s.get(url, timeout=5) for _ in range(12)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and sum(r.status_code == 200 for r in codes) <= 7 + 1
    try:
        limited[0].json()
        raise AssertionError("429 body must not be JSON")
    except ValueError:
        pass
    time.sleep(1.05)
    assert s.get(url, timeout=5).status_code == 200
    assert "7 requests/s" in strict_sources.describe()["amocrm"]["rate_limit"]
