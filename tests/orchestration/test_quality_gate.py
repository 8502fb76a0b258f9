"""Write-audit-publish in Dagster on the golden company: a clean run publishes; a defect in
the raw data stops the run at a named expectation and leaves `marts` byte-identical."""

from __future__ import annotations

import json

import pytest
from dagster import materialize

from funnelhouse.expectations.suites import mart_suites, raw_suites
from funnelhouse.orchestration.assets.dbt import dbt_marts, dbt_staging
from funnelhouse.orchestration.assets.quality import mart_checks, publish_marts, raw_checks
from funnelhouse.orchestration.definitions import defs
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.warehouse.publish import CANDIDATE_DATABASE
from tests.dbt import golden_data as g
from tests.dbt.conftest import load, load_golden, reset_pipeline
from tests.orchestration.conftest import marts_fingerprint


def _run(warehouse):
    return materialize(
        [dbt_staging, dbt_marts, publish_marts, raw_checks, mart_checks],
        resources={
            "warehouse": WarehouseResource(host=warehouse.host, port=warehouse.port),
            "dbt": defs.resources["dbt"],
        },
        raise_on_error=False,
    )


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
    suites = len(raw_suites()) + len(mart_suites(CANDIDATE_DATABASE))
    assert len(gx) == suites and all(c.passed for c in gx), [
        (c.check_name, c.description) for c in gx if not c.passed
    ]
    rows = store.client.query(
        "SELECT leads_created, deals_won FROM marts.conversion_gross WHERE period_grain = "
        "'month' AND period_start = '2026-01-01' AND segment_type = 'all'"
    ).result_rows
    assert rows == [(3, 1)]


# Defective records: (raw table, the record, its id key, its cursor key) → the suite and the
# expectation that must stop the run, and how many rows it finds. One run shows all of them.
DEFECTS = [
    (("uis__calls", dict(g.CALLS[0], id=9999, talk_duration=-30), "id", "start_time"),
     ("raw__stg_uis__calls", "UIS call: talk_seconds >= 0", 1)),
    (("onec__counterparties", dict(g.COUNTERPARTIES[0], Ref_Key=g.K1.replace("1", "f", 1),
                                   ИНН="770708389"), "Ref_Key", "DataVersion"),
     ("raw__stg_onec__counterparties", "1C counterparty: inn has 10 or 12 digits", 1)),
    (("amocrm__contacts", dict(g.CONTACTS[0], id=None), "id", None),
     ("raw__stg_amocrm__contacts", "amoCRM contact: id present", 1)),
    (("amocrm__pipelines", dict(g.PIPELINES[0], id=2, _embedded={"statuses": [
        st for st in g.PIPELINES[0]["_embedded"]["statuses"] if st["id"] != 142]}), "id", None),
     ("raw__stg_amocrm__pipelines", "amoCRM pipelines: every pipeline has a won stage", 3)),
]  # fmt: skip


def test_defects_stop_the_run_and_marts_stay_as_they_were(published, warehouse):
    store, _ = published
    before = marts_fingerprint(store.client)
    for (table, bad, id_key, cursor_key), _ in DEFECTS:
        load(store, table, [bad], id_key, cursor_key)
    result = _run(warehouse)
    assert not result.success
    failed = {
        e.check_name: json.loads(json.dumps(e.metadata["failures"].value))
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    assert {suite: {name: f["unexpected"] for name, f in failures.items()}
            for suite, failures in failed.items()} == {
        suite: {expectation: rows} for _, (suite, expectation, rows) in DEFECTS
    }  # fmt: skip
    # Nothing downstream ran: no publish, marts byte-identical.
    assert not [m for m in result.get_asset_materialization_events()
                if m.asset_key.path[0] in ("marts", "marts_candidate")]  # fmt: skip
    assert marts_fingerprint(store.client) == before
