"""Write-audit-publish in Dagster on the golden company: a clean run publishes; a defect in
the raw data stops the run at a named check and leaves `marts` byte-identical. Row-level
checks are dbt tests on the staging models that read the batch loaded since the last publish,
or every row in a full validation; both block the same runs."""

from __future__ import annotations

import json

import pytest
from dagster import AssetSelection, materialize

from funnelhouse.expectations.gate import WATERMARKS_TABLE
from funnelhouse.expectations.suites import mart_suites, raw_suites
from funnelhouse.orchestration.assets.dbt import MARTS, STAGING_KEYS, dbt_build
from funnelhouse.orchestration.assets.quality import mart_checks, publish_marts, raw_checks
from funnelhouse.orchestration.definitions import defs
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.warehouse.publish import CANDIDATE_DATABASE
from tests.dbt import golden_data as g
from tests.dbt.conftest import load, load_golden, reset_pipeline
from tests.orchestration.conftest import marts_fingerprint

pytestmark = pytest.mark.slow  # a pipeline run per test

FAILED_ROWS = "dagster_dbt/failed_row_count"


def _run(warehouse, selection=None):
    """The gate from the raw layer on; the raw tables are loaded by the test, not ingested,
    so the raw suites on them are selected explicitly."""
    if selection is None:
        selection = AssetSelection.assets(*dbt_build.keys, *publish_marts.keys)
    return materialize(
        [dbt_build, publish_marts, raw_checks, mart_checks],
        selection=selection | AssetSelection.checks(raw_checks),
        resources={
            "warehouse": WarehouseResource(host=warehouse.host, port=warehouse.port),
            "dbt": defs.resources["dbt"],
        },
        raise_on_error=False,
    )


def _failed(result) -> dict[tuple[str, str], int | dict[str, int]]:
    """(asset, check) of each failed check → the rows a dbt test found, or, for a GX suite,
    the unexpected count of each failed expectation."""
    out: dict[tuple[str, str], int | dict[str, int]] = {}
    for e in result.get_asset_check_evaluations():
        if e.passed:
            continue
        key = (e.asset_key.to_user_string(), e.check_name)
        if FAILED_ROWS in e.metadata:
            out[key] = int(e.metadata[FAILED_ROWS].value)
        else:
            out[key] = {n: f["unexpected"] for n, f in e.metadata["failures"].value.items()}
    return out


def _nothing_published(result) -> bool:
    return not [m for m in result.get_asset_materialization_events()
                if m.asset_key.path[0] in ("marts", "marts_candidate")]  # fmt: skip


def _watermark(client, relation: str):
    return client.query(
        f"SELECT argMax(loaded_until, recorded_at) FROM {WATERMARKS_TABLE} "
        "WHERE relation = {r:String}",
        parameters={"r": relation},
    ).result_rows[0][0]


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
    assert not [(c.asset_key, c.check_name, c.description) for c in checks if not c.passed]
    gx_names = {s.check_name for s in raw_suites() + mart_suites(CANDIDATE_DATABASE)}
    gx = [c for c in checks if c.check_name in gx_names]
    assert len(gx) == len(raw_suites()) + len(mart_suites(CANDIDATE_DATABASE))
    # The row-level dbt tests on staging ran too, and none is named after the raw layer.
    staging = {c.check_name for c in checks if c.asset_key.path[0] == "staging"}
    assert "at_least_stg_uis__calls_talk_seconds__0" in staging
    assert not [n for n in staging | gx_names if n.startswith("raw__")]
    rows = store.client.query(
        "SELECT leads_created, deals_won FROM marts.conversion_gross WHERE period_grain = "
        "'month' AND period_start = '2026-01-01' AND segment_type = 'all'"
    ).result_rows
    assert rows == [(3, 1)]
    # The publish set where the next batch validation starts: the newest load in staging.
    [(newest,)] = store.client.query(
        "SELECT max(loaded_at) FROM staging.stg_uis__calls"
    ).result_rows
    assert _watermark(store.client, "staging.stg_uis__calls") == newest


def _built(result) -> set[str]:
    return {m.asset_key.path[0] for m in result.get_asset_materialization_events()}


def _built_keys(result, layer: str) -> set:
    return {m.asset_key for m in result.get_asset_materialization_events()
            if m.asset_key.path[0] == layer}  # fmt: skip


def _skipped(result) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}


def _publishes(client) -> int:
    return int(client.command("SELECT count() FROM marts.publish_log"))


def test_a_run_over_unchanged_inputs_builds_and_publishes_nothing(published, warehouse):
    """A quiet hour: nothing new, or only records a sync re-read as they were (every sync
    re-reads a lookback window into new versions). The marts would come out the same, so
    dbt does not run and the suites and the publish are skipped; a record that did change
    is built and published."""
    store, _ = published
    client = store.client
    before, publishes = marts_fingerprint(client), _publishes(client)
    quiet = _run(warehouse)
    assert quiet.success
    assert not _built(quiet)  # not a staging table, intermediate model or mart
    assert _skipped(quiet) >= {"mart_suites", "publish_marts"}
    # The live marts are current: their freshness checks must not call them stale.
    observed = {e.asset_key.path[-1]: e.event_specific_data.asset_observation.metadata
                for e in quiet.all_events if e.event_type_value == "ASSET_OBSERVATION"}  # fmt: skip
    assert observed.keys() == set(MARTS)
    assert all("dagster/last_updated_timestamp" in m for m in observed.values())
    load(store, "uis__calls", g.CALLS[:3], "id", "start_time")
    reread = _run(warehouse)
    assert reread.success and not _built(reread)
    assert (marts_fingerprint(client), _publishes(client)) == (before, publishes)

    # A record that did change is built, even by a run of staging and one mart; that run built
    # no intermediate model, so it vouches for nothing: the next run over the same records
    # builds the rest and publishes the change.
    longer = dict(g.CALLS[0], talk_duration=g.CALLS[0]["talk_duration"] + 60)
    load(store, "uis__calls", [*g.CALLS[1:3], longer], "id", "start_time")
    partial = _run(warehouse, AssetSelection.assets(
        *STAGING_KEYS, MARTS["call_load_by_stage"], *publish_marts.keys))  # fmt: skip
    assert partial.success and {"staging", "marts_candidate", "marts"} <= _built(partial)
    assert {k.path[-1] for k in _built_keys(partial, "marts_candidate")} == {"call_load_by_stage"}
    after = _run(warehouse)
    assert after.success and {"staging", "intermediate", "marts_candidate", "marts"} <= _built(
        after
    )
    assert _publishes(client) == publishes + 1
    assert marts_fingerprint(client) != before


NEGATIVE_TALK = dict(g.CALLS[0], id=9999, talk_duration=-30)
TALK_CHECK = ("staging/stg_uis__calls", "at_least_stg_uis__calls_talk_seconds__0")


def _validation(monkeypatch, mode: str) -> None:
    monkeypatch.setenv("FUNNELHOUSE_GATE_VALIDATION", mode)  # dbt reads it (new_batch.sql)


def test_batch_validation_reads_only_rows_loaded_after_the_last_publish(published, warehouse,
                                                                         monkeypatch):  # fmt: skip
    """A row below the watermark passed these tests when its run published, so a batch
    validation does not read it again; a full validation does. (Such a row can only be bad
    when a staging model or its tests changed since: that is when to validate in full.)"""
    store, _ = published
    mark = _watermark(store.client, "staging.stg_uis__calls")
    # A good new call moves the watermark when its run publishes...
    load(store, "uis__calls", [dict(NEGATIVE_TALK, talk_duration=30)], "id", "start_time")
    # ...and a bad call claims to have been loaded before the last publish.
    store.client.command(
        "INSERT INTO raw.uis__calls (id, _cursor, payload, _source, _stream, _batch_id, "
        "_loaded_at, _is_deleted, _version) SELECT '9998', '', {p:String}, 'uis', 'calls', "
        "'old', {at:DateTime64(3)} - INTERVAL 1 SECOND, 0, max(_version) + 1 "
        "FROM raw.uis__calls",
        parameters={"p": json.dumps(dict(NEGATIVE_TALK, id=9998)), "at": mark},
    )
    _validation(monkeypatch, "batch")
    passed = _run(warehouse)
    assert passed.success, _failed(passed)
    assert _watermark(store.client, "staging.stg_uis__calls") > mark  # the new call's
    _validation(monkeypatch, "full")
    assert _failed(_run(warehouse)) == {TALK_CHECK: 1}
    load(store, "uis__calls", [dict(NEGATIVE_TALK, id=9998, talk_duration=30)], "id",
         "start_time")  # fmt: skip


def test_a_raw_table_that_lost_ids_stops_the_run(published, warehouse):
    """Raw never forgets an id: fewer than at the last passed gate is a broken load."""
    store, _ = published
    before = marts_fingerprint(store.client)
    counted = store.client.command("SELECT count() FROM raw.amocrm__users FINAL")
    store.client.command("DELETE FROM raw.amocrm__users WHERE id = (SELECT min(id) FROM "
                         "raw.amocrm__users)")  # fmt: skip
    result = _run(warehouse)
    assert not result.success
    assert _failed(result) == {
        ("raw/amocrm__users", "ids_unique_and_kept"): {
            f"raw.amocrm__users: ids not below the last passed gate's ({counted})": None
        }
    }
    assert _nothing_published(result)
    assert marts_fingerprint(store.client) == before
    load(store, "amocrm__users", [{"id": k, "name": v} for k, v in g.USERS.items()], "id")


# Defective records: (raw table, the record, its id key, its cursor key) → the check that must
# stop the run (on its asset) and how many rows it finds. One run shows all of them.
DEFECTS = [
    (("uis__calls", NEGATIVE_TALK, "id", "start_time"), (TALK_CHECK, 1)),
    (("onec__counterparties", dict(g.COUNTERPARTIES[0], Ref_Key=g.K1.replace("1", "f", 1),
                                   ИНН="770708389"), "Ref_Key", "DataVersion"),
     (("staging/stg_onec__counterparties", "valid_inn_stg_onec__counterparties_inn"), 1)),
    (("amocrm__contacts", dict(g.CONTACTS[0], id=None), "id", None),
     (("staging/stg_amocrm__contacts", "has_source_id_stg_amocrm__contacts_contact_id"), 1)),
    (("amocrm__pipelines", dict(g.PIPELINES[0], id=2, _embedded={"statuses": [
        st for st in g.PIPELINES[0]["_embedded"]["statuses"] if st["id"] != 142]}), "id", None),
     (("staging/stg_amocrm__pipelines", "every_amocrm_pipeline_has_a_won_stage"), 3)),
]  # fmt: skip


def test_defects_stop_the_run_in_batch_and_full_validation_alike(published, warehouse,
                                                                 monkeypatch):  # fmt: skip
    """Bad records in the batch loaded since the last publish block the run at the same
    checks, with the same rows, whether the dbt tests read that batch or every row; nothing
    downstream runs and `marts` stay byte-identical."""
    store, _ = published
    before = marts_fingerprint(store.client)
    for (table, bad, id_key, cursor_key), _ in DEFECTS:
        load(store, table, [bad], id_key, cursor_key)
    for mode in ("batch", "full"):
        _validation(monkeypatch, mode)
        result = _run(warehouse)
        assert not result.success, mode
        assert _failed(result) == dict(check for _, check in DEFECTS), mode
        assert _nothing_published(result), mode
        assert marts_fingerprint(store.client) == before, mode
