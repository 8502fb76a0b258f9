"""UIS Data API v2.0 emulator against SOURCE_APIS.md §3: JSON-RPC, limits, errors, local times."""

from __future__ import annotations

import re

import numpy as np
import requests

from funnelhouse.simulator.emulators.server import start_emulators
from funnelhouse.simulator.emulators.timefmt import local
from funnelhouse.simulator.emulators.uis import Uis, _local_many
from tests.simulator.conftest import uis

LOCAL = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
MONTH = {"date_from": "2026-09-01 00:00:00", "date_till": "2026-10-01 00:00:00"}


def test_calls_report_shape(sources):
    body = uis(sources, "get.calls_report", {**MONTH, "limit": 50}).json()
    assert body["jsonrpc"] == "2.0" and body["id"] == "t-1"
    meta = body["result"]["metadata"]
    assert meta["total_items"] >= len(body["result"]["data"]) > 0
    assert set(meta["limits"]) == {
        "day_limit",
        "day_remaining",
        "day_reset",
        "minute_limit",
        "minute_remaining",
        "minute_reset",
    }
    call = body["result"]["data"][0]
    assert LOCAL.match(call["start_time"]) and LOCAL.match(call["finish_time"])
    assert isinstance(call["id"], int) and call["direction"] in ("in", "out")
    assert isinstance(call["is_lost"], bool) and isinstance(call["talk_duration"], int)
    assert "sale_date" in call and call["sale_date"] is None  # empty fields present as null
    emp = call["employees"][0]
    assert set(emp) == {"employee_id", "employee_full_name", "is_answered", "is_talked"}


def test_offset_paging_covers_the_window_once(sources):
    total = uis(sources, "get.calls_report", {**MONTH, "limit": 1}).json()["result"]["metadata"][
        "total_items"
    ]
    ids, offset = [], 0
    while offset < total:
        data = uis(
            sources, "get.calls_report", {**MONTH, "limit": 97, "offset": offset, "fields": ["id"]}
        ).json()
        rows = data["result"]["data"]
        assert all(set(r) == {"id"} for r in rows)
        ids += [r["id"] for r in rows]
        offset += len(rows)
    assert len(ids) == len(set(ids)) == total


def test_fields_filter_and_sort(sources):
    params = {
        **MONTH,
        "fields": ["id", "direction", "is_lost", "talk_duration"],
        "filter": {
            "filters": [
                {"field": "direction", "operator": "=", "value": "in"},
                {"field": "is_lost", "operator": "=", "value": True},
            ],
            "condition": "and",
        },
        "sort": [{"field": "talk_duration", "order": "desc"}],
    }
    rows = uis(sources, "get.calls_report", params).json()["result"]["data"]
    assert rows and all(r["direction"] == "in" and r["is_lost"] for r in rows)
    bad = uis(
        sources,
        "get.calls_report",
        {**MONTH, "filter": {"field": "tags", "operator": "=", "value": 1}},
    ).json()
    assert bad["error"]["data"]["mnemonic"] == "filter_prohibited"


def test_parameter_errors(sources):
    def err(params: dict) -> dict:
        return uis(sources, "get.calls_report", params).json()["error"]

    e = err({"date_from": "2026-01-01 00:00:00", "date_till": "2026-04-02 00:00:00"})
    assert e["code"] == -32602 and e["data"]["mnemonic"] == "date_interval_limit_reached"
    assert "limits" in e["data"]["metadata"]
    assert (
        err({"date_from": "2026-01-01 00:00:00"})["data"]["mnemonic"] == "required_parameter_missed"
    )
    assert err({**MONTH, "limit": 10_001})["data"]["mnemonic"] == "invalid_parameter_value"
    assert err({**MONTH, "offset": 100_001})["data"]["mnemonic"] == "invalid_parameter_value"
    assert err({**MONTH, "unknown": 1})["data"]["mnemonic"] == "unexpected_parameters"
    assert (
        err({"date_from": "2026-01-01T00:00:00+03:00", "date_till": "2026-01-02 00:00:00"})["code"]
        == -32602
    )
    ok = uis(
        sources,
        "get.calls_report",
        {"date_from": "2026-01-01 00:00:00", "date_till": "2026-04-01 00:00:00"},
    )
    assert "result" in ok.json()


def test_protocol_errors(sources):
    bad_token = uis(sources, "get.calls_report", MONTH, token="nope").json()["error"]
    assert bad_token["code"] == -32001
    assert uis(sources, "get.nothing", {}).json()["error"]["code"] == -32601
    r = requests.post(sources.uis_url, data=b"{not json", timeout=5).json()
    assert r["error"]["code"] == -32700 and r["id"] is None
    batch = requests.post(
        sources.uis_url,
        json=[{"jsonrpc": "2.0", "id": 1, "method": "get.account", "params": {}}],
        timeout=5,
    ).json()
    assert batch["error"]["code"] == -32099


def test_account_timezone(sources):
    data = uis(sources, "get.account", {}).json()["result"]["data"][0]
    assert data["timezone"] == "Europe/Moscow"


def test_points_run_out_with_32029(company):
    with start_emulators(company) as src:
        app: Uis = src.apps["uis"]  # type: ignore[assignment]
        app.points.minute_limit = 3
        app.points.reset()
        replies = [uis(src, "get.account", {}).json() for _ in range(4)]
        assert all("result" in r for r in replies[:3])
        err = replies[3]["error"]
        assert err["code"] == -32029 and err["data"]["mnemonic"] == "limit_exceeded"
        assert err["data"]["metadata"]["limits"]["minute_remaining"] == 0
        assert replies[2]["result"]["metadata"]["limits"]["minute_remaining"] == 0
        stats = app.stats.as_dict()
        assert stats["requests"] == 4 and stats["throttled"] == 1  # a 200 the bench counts


def test_column_renderer_writes_local_time_like_timefmt():
    """Wall times come out of one vectorised conversion; across DST changes and the Moscow
    offset change of 2014 they must read as `timefmt.local` writes them one by one."""
    stamps = np.concatenate([
        np.arange(1_414_281_600 - 7_200, 1_414_281_600 + 7_200, 599),  # MSK +4 -> +3, 2014
        np.arange(1_711_846_800 - 7_200, 1_711_846_800 + 7_200, 601),  # CET -> CEST, 2024
        np.arange(1_729_994_400 - 7_200, 1_729_994_400 + 7_200, 607),  # CEST -> CET, 2024
    ])  # fmt: skip
    for tz in ("Europe/Moscow", "Europe/Berlin", "UTC"):
        assert _local_many(stamps, tz) == [local(int(t), tz) for t in stamps]
