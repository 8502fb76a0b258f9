"""Write-audit-publish in Dagster on the golden company: a clean run publishes; a defect in
the raw data stops the run at a named expectation and leaves `marts` byte-identical."""

from __future__ import annotations

import json

import pytest
from dagster import materialize

from funnelhouse.orchestration.assets.dbt import dbt_marts, dbt_staging
from funnelhouse.orchestration.assets.quality import MARTS, mart_checks, publish_marts, raw_checks
from funnelhouse.orchestration.definitions import defs
from funnelhouse.orchestration.resources import WarehouseResource
from tests.dbt import golden_data as g
from tests.dbt.conftest import load, load_golden, reset_pipeline


def _run(warehouse):
    return materialize(
        [dbt_staging, dbt_marts, publish_marts, raw_checks, mart_checks],
        resources={
            "warehouse": WarehouseResource(host=warehouse.host, port=warehouse.port),
            "dbt": defs.resources["dbt"],
        },
        raise_on_error=False,
    )


def _fingerprint(client) -> dict[str, tuple]:
    return {
        m: client.query(f"SELECT count(), sum(cityHash64(*)) FROM marts.{m}").result_rows[0]
        for m in MARTS
    }


@pytest.fixture(scope="module")
def published(warehouse):
    store = reset_pipeline(warehouse)
    load_golden(store)
    result = _run(warehouse)
    return store, result


def test_clean_run_publishes_marts_that_pass_every_suite(published):
    store, result = published
    assert result.success
    checks = result.get_asset_check_evaluations()
    gx = [c for c in checks if c.check_name.startswith(("raw__", "marts__"))]
    assert len(gx) == 9 + len(MARTS) and all(c.passed for c in gx), [
        (c.check_name, c.description) for c in gx if not c.passed
    ]
    rows = store.client.query(
        "SELECT leads_created, deals_won FROM marts.conversion_gross WHERE period_grain = "
        "'month' AND period_start = '2026-01-01' AND segment_type = 'all'"
    ).result_rows
    assert rows == [(3, 1)]


def test_defect_stops_the_run_and_marts_stay_as_they_were(published, warehouse):
    store, _ = published
    before = _fingerprint(store.client)
    bad = dict(g.CALLS[0], id=9999, talk_duration=-30)
    load(store, "uis__calls", [bad], "id", "start_time")
    store.set_cursor("uis", "calls", "x", "golden", 1)  # the batch the gate reads
    result = _run(warehouse)
    assert not result.success
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) == {"raw__stg_uis__calls"}
    failures = json.loads(json.dumps(failed["raw__stg_uis__calls"].metadata["failures"].value))
    assert list(failures) == ["UIS call: talk_seconds >= 0"]
    assert failures["UIS call: talk_seconds >= 0"]["unexpected"] == 1
    # Nothing downstream ran: no publish, marts byte-identical.
    assert not [m for m in result.get_asset_materialization_events()
                if m.asset_key.path[0] in ("marts", "marts_candidate")]  # fmt: skip
    assert _fingerprint(store.client) == before
