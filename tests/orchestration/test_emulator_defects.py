"""Every data defect the source emulators inject, end to end through the quality gate.

A small simulated company is loaded through the connectors, built and published into `marts`
first. Then, per defect, the emulators of the sources it can hit switch it on (every 50th
record, their default), the connectors re-read in full (as the nightly `full_refresh` does) the
streams it can hit, and one Dagster run of ingest → raw suites (GX, across loads) → dbt
staging and its tests (each record) → dbt marts → mart suites → publish must stop at exactly
the named checks, publish nothing and leave `marts` byte-identical. 1C refuses an object
without Ref_Key at ingest instead, which stops the run before dbt. Each test starts from the
raw layer of the clean load.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

from funnelhouse.dbt import run_dbt
from funnelhouse.ingest.raw import RawStore
from funnelhouse.ingest.sources import SOURCES, SourceSession
from funnelhouse.orchestration.assets.dbt import MANIFEST, STAGING_KEYS, dbt_build
from funnelhouse.orchestration.assets.ingest import ingest_assets
from funnelhouse.orchestration.assets.quality import MARTS, mart_checks, publish_marts, raw_checks
from funnelhouse.orchestration.definitions import defs
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.simulator.config import SimConfig
from funnelhouse.simulator.emulators.server import start_emulators
from funnelhouse.warehouse.publish import publish
from tests.conftest import use_emulators
from tests.dbt.conftest import reset_pipeline
from tests.orchestration.conftest import marts_fingerprint

pytestmark = pytest.mark.slow  # a pipeline run per defect

CLEAN_RAW = "raw_clean_load"
CLEAN_STAGING = "staging_clean_load"  # staging is incremental: it keeps what a run parsed
INGEST = {k.path[-1]: a for a in ingest_assets() for k in a.keys}  # raw table → its source's
# The streams whose records the row-level checks of their staging model guard, by source.
UIS = ("uis__calls",)
AMOCRM = ("amocrm__leads", "amocrm__status_changes", "amocrm__call_notes")
BITRIX24 = ("bitrix24__deals", "bitrix24__stage_history", "bitrix24__calls")
ONEC = ("onec__sales", "onec__payments")
CROSS_LOAD = "ids_unique_and_kept"  # the GX suite on every raw table


def dbt_test(stream: str, test: str) -> tuple[str, set[str]]:
    """A failed dbt test on the staging model of `stream` (it has no GX expectations)."""
    return f"staging/stg_{stream}:{test}", set()


def raw_suite(stream: str) -> tuple[str, set[str]]:
    """The raw suite of `stream`, failed at its ids-unique expectation."""
    source, name = stream.split("__")
    return (f"raw/{stream}:{CROSS_LOAD}",
            {f"{source}/{name}: ids unique per version in the last load"})  # fmt: skip


@dataclass(frozen=True)
class Defect:
    name: str
    streams: tuple[str, ...]  # re-read in full with the defect switched on at their sources
    failures: dict[str, set[str]]  # each failing check → its failing GX expectations
    stopped_at: str  # the step that fails: dbt_build (staging tests) or raw_suites (GX)
    incremental: tuple[str, ...] = ()  # those of `streams` read from their cursor instead


DEFECTS = [
    Defect(
        "null_ids",
        UIS + AMOCRM + BITRIX24,  # 1C refuses such objects at ingest: the test after this one
        dict([
            dbt_test("uis__calls", "not_null_stg_uis__calls_telephony_call_id"),
            dbt_test("amocrm__leads", "not_null_stg_amocrm__leads_source_deal_id"),
            dbt_test("amocrm__status_changes",
                     "not_null_stg_amocrm__status_changes_source_event_id"),
            dbt_test("amocrm__call_notes", "not_null_stg_amocrm__call_notes_source_note_id"),
            dbt_test("bitrix24__deals", "not_null_stg_bitrix24__deals_source_deal_id"),
            dbt_test("bitrix24__stage_history",
                     "not_null_stg_bitrix24__stage_history_source_event_id"),
            dbt_test("bitrix24__calls", "not_null_stg_bitrix24__calls_source_call_id"),
        ]),
        "dbt_build",
    ),
    Defect(
        "negative_durations",
        ("uis__calls", "amocrm__call_notes", "bitrix24__calls"),
        dict([
            dbt_test("uis__calls", "at_least_stg_uis__calls_talk_seconds__0"),
            dbt_test("amocrm__call_notes", "at_least_stg_amocrm__call_notes_duration_seconds__0"),
            dbt_test("bitrix24__calls", "at_least_stg_bitrix24__calls_duration_seconds__0"),
        ]),
        "dbt_build",
    ),
    Defect(
        # A creation time a year late: in the future for recent records, out of order with
        # the record's own later times (where it has one) for any record.
        "future_dates",
        UIS + AMOCRM + BITRIX24 + ONEC,
        dict([
            dbt_test("uis__calls", "not_in_future_stg_uis__calls_started_at"),
            dbt_test("uis__calls", "not_after_stg_uis__calls_started_at__finished_at"),
            # The one lead hit is old enough that a year later is still in the past.
            dbt_test("amocrm__leads", "not_after_stg_amocrm__leads_created_at__updated_at"),
            dbt_test("amocrm__status_changes",
                     "not_in_future_stg_amocrm__status_changes_changed_at"),
            dbt_test("amocrm__call_notes", "not_in_future_stg_amocrm__call_notes_created_at"),
            dbt_test("bitrix24__deals", "not_in_future_stg_bitrix24__deals_created_at"),
            dbt_test("bitrix24__deals", "not_after_stg_bitrix24__deals_created_at__updated_at"),
            dbt_test("bitrix24__stage_history",
                     "not_in_future_stg_bitrix24__stage_history_changed_at"),
            dbt_test("bitrix24__calls", "not_in_future_stg_bitrix24__calls_started_at"),
            dbt_test("onec__sales", "not_in_future_stg_onec__sales_document_at"),
            dbt_test("onec__payments", "not_in_future_stg_onec__payments_document_at"),
        ]),
        "dbt_build",
    ),
    Defect(
        "unknown_stage_ids",
        ("amocrm__leads", "amocrm__status_changes", "bitrix24__deals", "bitrix24__stage_history"),
        dict([
            dbt_test("amocrm__leads",
                     "relationships_stg_amocrm__leads_stage_key__stage_key__ref_stg_amocrm__pipelines_"),
            dbt_test("amocrm__status_changes",
                     "relationships_stg_amocrm__status_changes_stage_key_after__stage_key__ref_"
                     "stg_amocrm__pipelines_"),
            dbt_test("bitrix24__deals",
                     "relationships_stg_bitrix24__deals_stage_key__stage_key__ref_int_bitrix24__stages_"),
            dbt_test("bitrix24__stage_history",
                     "relationships_stg_bitrix24__stage_history_stage_key__stage_key__ref_"
                     "int_bitrix24__stages_"),
        ]),
        "dbt_build",
    ),
    Defect(
        # Raw keeps one record per id; ingest records the id conflict within a page. 1C reads
        # from its cursor here: a Ref_Key twice in its key list makes it read in full.
        "duplicate_ids",
        UIS + AMOCRM + BITRIX24 + ONEC,
        dict(raw_suite(t) for t in UIS + AMOCRM + BITRIX24 + ONEC),
        "raw_suites",
        incremental=ONEC,
    ),
]  # fmt: skip


def _copy_database(client, source: str, target: str) -> None:
    """`target` becomes an exact copy of `source`: same tables, engines and rows."""
    client.command(f"DROP DATABASE IF EXISTS {target} SYNC")
    client.command(f"CREATE DATABASE {target}")
    tables = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": source}
    ).result_rows
    for (table,) in tables:
        client.command(f"CREATE TABLE {target}.{table} AS {source}.{table}")
        client.command(f"INSERT INTO {target}.{table} SELECT * FROM {source}.{table}")


def _copy_tables(client, source: str, target: str) -> None:
    """Every table of `source` (not its views) replaces its namesake in `target`; the views
    of `target` stay, reading the replaced tables by name."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {target}")
    tables = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View'",
        parameters={"db": source},
    ).result_rows
    for (table,) in tables:
        client.command(f"DROP TABLE IF EXISTS {target}.{table} SYNC")
        client.command(f"CREATE TABLE {target}.{table} AS {source}.{table}")
        client.command(f"INSERT INTO {target}.{table} SELECT * FROM {source}.{table}")


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):
    """The emulators of a small company; its clean load in raw (and a copy), built, published."""
    with start_emulators(SimConfig(seed=5, scale=0.02), rate_multiplier=1000) as sources:
        mp = pytest.MonkeyPatch()
        use_emulators(mp, sources, warehouse)
        # dbt's target in a folder of ours: the clean build leaves a partial-parse file there
        # for this warehouse, so the dbt step of each run below does not re-parse the project.
        mp.setenv("DBT_TARGET_PATH", str(tmp_path_factory.mktemp("dbt_target")))
        store = reset_pipeline(warehouse)
        session = SourceSession(RawStore(store.client))
        for source in SOURCES.values():
            for stream in source.streams:
                session.sync(source.name, stream)
        run_dbt("build", settings=warehouse)
        publish(store.client, MARTS)
        _copy_database(store.client, "raw", CLEAN_RAW)
        _copy_tables(store.client, "staging", CLEAN_STAGING)
        with DagsterInstance.ephemeral() as instance:
            yield sources, store.client, instance, marts_fingerprint(store.client)
        store.client.command(f"DROP DATABASE IF EXISTS {CLEAN_RAW} SYNC")
        store.client.command(f"DROP DATABASE IF EXISTS {CLEAN_STAGING} SYNC")
        mp.undo()
        del session
        gc.collect()  # closes the connectors' keep-alive connections: the emulators stop at once


@pytest.fixture
def clean(published):
    """Raw and staging exactly as the clean load left them (cursors and gate counts too; the
    incremental staging models would otherwise keep the previous defect's rows), no faults."""
    sources, client, instance, before = published
    _copy_database(client, CLEAN_RAW, "raw")
    _copy_tables(client, CLEAN_STAGING, "staging")
    sources.reset()
    yield sources, client, instance, before
    sources.reset()


def _gated_run(warehouse, instance, streams: tuple[str, ...], incremental: tuple[str, ...] = ()):
    """One run: re-read `streams` (in full, but `incremental` from their cursors), run their
    raw suites, build and test their staging models, and everything after up to publish (dbt
    marts, mart suites, publish)."""
    # Their staging tables, and the source folders' conformed views built on them: the marts
    # read those views, so leaving them out would leave the marts unordered after the gate.
    staging = AssetSelection.assets(*(AssetKey(["staging", f"stg_{t}"]) for t in streams))
    selection = (
        AssetSelection.assets(*(AssetKey(["raw", t]) for t in streams),
                              *(dbt_build.keys - STAGING_KEYS), *publish_marts.keys)
        | staging
        | (staging.downstream() & AssetSelection.assets(*STAGING_KEYS))
    )  # fmt: skip
    sources = {t.split("__")[0] for t in streams}
    ops = {}
    for source in sources:  # one step per source: its streams all in full or all incremental
        modes = {t in incremental for t in streams if t.startswith(f"{source}__")}
        assert len(modes) == 1, f"{source}: some streams incremental, others in full"
        ops[f"ingest_{source}"] = {"config": {"full_refresh": not modes.pop()}}
    ingest = list({id(INGEST[t]): INGEST[t] for t in streams}.values())
    return materialize(
        [*ingest, dbt_build, publish_marts, raw_checks, mart_checks],
        selection=selection,
        resources={
            "warehouse": WarehouseResource(host=warehouse.host, port=warehouse.port),
            "dbt": defs.resources["dbt"],
        },
        run_config={"ops": ops},
        instance=instance,
        raise_on_error=False,
    )  # fmt: skip


def _steps(result, status: str) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == status}


def _messages(error) -> str:
    """An error and its causes (the last retry's failure wraps the connector's own error)."""
    return "" if error is None else error.message + _messages(error.cause)


def _nothing_built_after_the_raw_gate(result) -> bool:
    built = {m.asset_key.path[0] for m in result.get_asset_materialization_events()}
    return not built & {"staging", "intermediate", "marts_candidate", "marts"}


def _descendants(unique_id: str) -> set[str]:
    """Every dbt model built on `unique_id`, by name, from the manifest's child map."""
    children = MANIFEST["child_map"]
    found: set[str] = set()
    todo = [unique_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.startswith("model.") and child not in found:
                found.add(child)
                todo.append(child)
    return {child.split(".")[-1] for child in found}


def _built_on_failed_tests(result, failures) -> set[str]:
    """The models this run built on what a failed dbt test read. dbt build skips every model
    built on the table a test checks; a test of two tables (relationships) holds back the
    models built on both (dbt adds no edge that could make a cycle)."""
    tests = {n["name"]: n for n in MANIFEST["nodes"].values() if n["resource_type"] == "test"}
    held: set[str] = set()
    for check in failures:
        if check.startswith("staging/"):
            parents = tests[check.split(":")[1]]["depends_on"]["nodes"]
            held |= set.intersection(*(_descendants(p) for p in parents))
    built = {m.asset_key.path[-1] for m in result.get_asset_materialization_events()}
    return built & held


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.name for d in DEFECTS])
def test_defect_stops_the_run_at_named_expectations(clean, warehouse, defect):
    sources, client, instance, before = clean
    for source in {t.split("__")[0] for t in defect.streams}:
        sources.set_faults(defect.name, only=source)

    result = _gated_run(warehouse, instance, defect.streams, defect.incremental)

    assert not result.success
    # The defect came through the connectors: every stream loaded; each raw suite ran.
    assert _steps(result, "STEP_SUCCESS") >= {f"ingest_{t.split('__')[0]}" for t in defect.streams}
    loaded = {m.asset_key.path[-1] for m in result.get_asset_materialization_events()}
    assert loaded >= set(defect.streams)
    evaluations = result.get_asset_check_evaluations()
    assert {f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations} >= {
        f"raw/{t}:{CROSS_LOAD}" for t in defect.streams
    }
    failed = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": set(e.metadata["failures"].value)
        if "failures" in e.metadata
        else set()
        for e in evaluations
        if not e.passed
    }
    assert failed == defect.failures
    # The gate held: nothing built on a failed table, no mart checked, nothing published,
    # marts byte-identical. (A raw suite stops the run before dbt; a staging test, before
    # what dbt builds on its table.)
    assert _steps(result, "STEP_FAILURE") == {defect.stopped_at}
    assert not _steps(result, "STEP_START") & {"mart_suites", "publish_marts"}
    if defect.stopped_at == "raw_suites":
        assert _nothing_built_after_the_raw_gate(result)
    assert not _built_on_failed_tests(result, defect.failures)
    assert "publish_marts" not in _steps(result, "STEP_SUCCESS")
    assert marts_fingerprint(client) == before


@pytest.mark.parametrize("full_refresh", [True, False], ids=["full", "incremental"])
def test_1c_object_without_ref_key_fails_the_run_at_ingest(clean, warehouse, full_refresh):
    """1C objects always carry a Ref_Key, so ingest refuses one without it, naming the stream
    and the object, and writes nothing (no tombstone for the object whose key went missing
    either), without retrying; the run stops before dbt and `marts` stays as it was."""
    sources, client, instance, before = clean
    sources.set_faults("null_ids", only="onec")

    def raw_onec(database: str) -> list:
        return [
            client.query(
                f"SELECT count(), sum(cityHash64(tuple(*))) FROM {database}.{t}"
            ).result_rows
            for t in (*ONEC, "_cursors")
        ]

    result = _gated_run(warehouse, instance, ONEC, () if full_refresh else ONEC)

    assert not result.success
    errors = {e.step_key: _messages(e.event_specific_data.error) for e in result.all_events
              if e.is_step_failure}  # fmt: skip
    assert set(errors) == {"ingest_onec"}  # one step; its message names both streams
    assert not _steps(result, "STEP_UP_FOR_RETRY")  # the same object would come back
    for stream, entity in [("sales", "Document_РеализацияТоваровУслуг"),
                           ("payments", "Document_ПоступлениеНаРасчетныйСчет")]:  # fmt: skip
        assert re.search(
            rf"onec/{stream} record Number='\d{{4}}-\d{{6}}' Code=None: {entity} "
            "returned an object without Ref_Key",
            errors["ingest_onec"],
        ), errors["ingest_onec"]
    assert raw_onec("raw") == raw_onec(CLEAN_RAW)  # rows and cursors as they were
    assert not result.get_asset_check_evaluations()
    assert not _steps(result, "STEP_START") & {"dbt_build", "raw_suites", "publish_marts"}
    assert _nothing_built_after_the_raw_gate(result)
    assert marts_fingerprint(client) == before
