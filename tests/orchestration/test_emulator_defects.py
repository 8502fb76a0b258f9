"""Every data defect the source emulators inject, end to end through the quality gate.

A small simulated company is loaded through the connectors, built and published into `marts`
first. Then, per defect, the emulators of the sources it can hit switch it on (every 50th
record, their default), the connectors re-read in full (as the nightly `full_refresh` does) the
streams the raw suites guard, and one Dagster run of ingest → dbt staging → raw suites → dbt
marts → mart suites → publish must stop at exactly the named expectations, publish nothing and
leave `marts` byte-identical. 1C refuses an object without Ref_Key at ingest instead, which
stops the run before dbt. Each test starts from the raw layer of the clean load.
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
from funnelhouse.orchestration.assets.dbt import dbt_marts, dbt_staging
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

CLEAN_RAW = "raw_clean_load"
INGEST = {a.key.path[-1]: a for a in ingest_assets()}
# The streams a raw suite guards (suite raw__stg_<stream>), by source.
UIS = ("uis__calls",)
AMOCRM = ("amocrm__leads", "amocrm__status_changes", "amocrm__call_notes")
BITRIX24 = ("bitrix24__deals", "bitrix24__stage_history", "bitrix24__calls")
ONEC = ("onec__sales", "onec__payments")
FUTURE = "between 2000-01-01 and its load time"


@dataclass(frozen=True)
class Defect:
    name: str
    streams: tuple[str, ...]  # re-read in full with the defect switched on at their sources
    failures: dict[str, set[str]]  # each failing check → its failing expectations
    incremental: tuple[str, ...] = ()  # those of `streams` read from their cursor instead


DEFECTS = [
    Defect(
        "null_ids",
        UIS + AMOCRM + BITRIX24,  # 1C refuses such objects at ingest: the test after this one
        {
            "raw__stg_uis__calls": {"UIS call: telephony_call_id present"},
            "raw__stg_amocrm__leads": {"amoCRM lead: source_deal_id present"},
            "raw__stg_amocrm__status_changes": {"amoCRM stage change: source_event_id present"},
            "raw__stg_amocrm__call_notes": {"amoCRM call note: source_note_id present"},
            "raw__stg_bitrix24__deals": {"Bitrix24 deal: source_deal_id present"},
            "raw__stg_bitrix24__stage_history": {"Bitrix24 stage move: source_event_id present"},
            "raw__stg_bitrix24__calls": {"Bitrix24 call: source_call_id present"},
        },
    ),
    Defect(
        "negative_durations",
        ("uis__calls", "amocrm__call_notes", "bitrix24__calls"),
        {
            "raw__stg_uis__calls": {"UIS call: talk_seconds >= 0"},
            "raw__stg_amocrm__call_notes": {"amoCRM call note: duration_seconds >= 0"},
            "raw__stg_bitrix24__calls": {"Bitrix24 call: duration_seconds >= 0"},
        },
    ),
    Defect(
        # A creation time a year late: in the future for recent records, out of order with
        # the record's own later times (where it has one) for any record.
        "future_dates",
        UIS + AMOCRM + BITRIX24 + ONEC,
        {
            "raw__stg_uis__calls": {
                f"UIS call: started_at {FUTURE}",
                "UIS call: started_at not after finished_at",
            },
            # The one lead hit is old enough that a year later is still in the past.
            "raw__stg_amocrm__leads": {"amoCRM lead: created_at not after updated_at"},
            "raw__stg_amocrm__status_changes": {f"amoCRM stage change: changed_at {FUTURE}"},
            "raw__stg_amocrm__call_notes": {f"amoCRM call note: created_at {FUTURE}"},
            "raw__stg_bitrix24__deals": {
                f"Bitrix24 deal: created_at {FUTURE}",
                "Bitrix24 deal: created_at not after updated_at",
            },
            "raw__stg_bitrix24__stage_history": {f"Bitrix24 stage move: changed_at {FUTURE}"},
            "raw__stg_bitrix24__calls": {f"Bitrix24 call: started_at {FUTURE}"},
            "raw__stg_onec__sales": {f"1C sale: document_at {FUTURE}"},
            "raw__stg_onec__payments": {f"1C payment: document_at {FUTURE}"},
        },
    ),
    Defect(
        "unknown_stage_ids",
        ("amocrm__leads", "amocrm__status_changes", "bitrix24__deals", "bitrix24__stage_history"),
        {
            "raw__stg_amocrm__leads": {"amoCRM lead: stage_key known to the stage directory"},
            "raw__stg_amocrm__status_changes": {
                "amoCRM stage change: stage_key_after known to the stage directory"
            },
            "raw__stg_bitrix24__deals": {"Bitrix24 deal: stage_key known to the stage directory"},
            "raw__stg_bitrix24__stage_history": {
                "Bitrix24 stage move: stage_key known to the stage directory"
            },
        },
    ),
    Defect(
        # Raw keeps one record per id; ingest records the id conflict within a page. 1C reads
        # from its cursor here: a Ref_Key twice in its key list makes it read in full.
        "duplicate_ids",
        UIS + AMOCRM + BITRIX24 + ONEC,
        {
            "raw__stg_uis__calls": {"uis/calls: ids unique per version in the last load"},
            "raw__stg_amocrm__leads": {"amocrm/leads: ids unique per version in the last load"},
            "raw__stg_amocrm__status_changes": {
                "amocrm/status_changes: ids unique per version in the last load"
            },
            "raw__stg_amocrm__call_notes": {
                "amocrm/call_notes: ids unique per version in the last load"
            },
            "raw__stg_bitrix24__deals": {"bitrix24/deals: ids unique per version in the last load"},
            "raw__stg_bitrix24__stage_history": {
                "bitrix24/stage_history: ids unique per version in the last load"
            },
            "raw__stg_bitrix24__calls": {"bitrix24/calls: ids unique per version in the last load"},
            "raw__stg_onec__sales": {"onec/sales: ids unique per version in the last load"},
            "raw__stg_onec__payments": {"onec/payments: ids unique per version in the last load"},
        },
        incremental=ONEC,
    ),
]


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
        with DagsterInstance.ephemeral() as instance:
            yield sources, store.client, instance, marts_fingerprint(store.client)
        store.client.command(f"DROP DATABASE IF EXISTS {CLEAN_RAW} SYNC")
        mp.undo()
        del session
        gc.collect()  # closes the connectors' keep-alive connections: the emulators stop at once


@pytest.fixture
def clean(published):
    """Raw exactly as the clean load left it (cursors and gate counts too), and no faults."""
    sources, client, instance, before = published
    _copy_database(client, CLEAN_RAW, "raw")
    sources.reset()
    yield sources, client, instance, before
    sources.reset()


def _gated_run(warehouse, instance, streams: tuple[str, ...], incremental: tuple[str, ...] = ()):
    """One run: re-read `streams` (in full, but `incremental` from their cursors), build their
    staging models, run their raw suites, and everything after the raw gate up to publish
    (dbt marts, mart suites, publish)."""
    # Their staging tables, and the source folders' conformed views built on them: the marts
    # read those views, so leaving them out would leave the marts unordered after the gate.
    staging = AssetSelection.assets(*(AssetKey(["staging", f"stg_{t}"]) for t in streams))
    selection = (
        AssetSelection.assets(*(INGEST[t].key for t in streams), *dbt_marts.keys,
                              *publish_marts.keys)
        | staging
        | (staging.downstream() & AssetSelection.assets(*dbt_staging.keys))
    )  # fmt: skip
    ops = {f"raw__{t}": {"config": {"full_refresh": t not in incremental}} for t in streams}
    return materialize(
        [*(INGEST[t] for t in streams), dbt_staging, dbt_marts, publish_marts, raw_checks,
         mart_checks],
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
    return not built & {"intermediate", "marts_candidate", "marts"}


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.name for d in DEFECTS])
def test_defect_stops_the_run_at_named_expectations(clean, warehouse, defect):
    sources, client, instance, before = clean
    for source in {t.split("__")[0] for t in defect.streams}:
        sources.set_faults(defect.name, only=source)

    result = _gated_run(warehouse, instance, defect.streams, defect.incremental)

    assert not result.success
    # The defect came through the connectors: every stream loaded, staging built.
    assert _steps(result, "STEP_SUCCESS") >= {f"raw__{t}" for t in defect.streams} | {"dbt_staging"}
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} >= {f"raw__stg_{t}" for t in defect.streams}
    failed = {
        e.check_name: set(e.metadata["failures"].value) if "failures" in e.metadata else set()
        for e in evaluations
        if not e.passed
    }
    assert failed == defect.failures
    # The raw gate held: no mart built or checked, nothing published, marts byte-identical.
    assert _steps(result, "STEP_FAILURE") == {"raw_suites"}
    assert not _steps(result, "STEP_START") & {"dbt_marts", "mart_suites", "publish_marts"}
    assert _nothing_built_after_the_raw_gate(result)
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
    assert set(errors) == {"raw__onec__sales", "raw__onec__payments"}
    assert not _steps(result, "STEP_UP_FOR_RETRY")  # the same object would come back
    for stream, entity in [("sales", "Document_РеализацияТоваровУслуг"),
                           ("payments", "Document_ПоступлениеНаРасчетныйСчет")]:  # fmt: skip
        assert re.search(
            rf"onec/{stream} record Number='\d{{4}}-\d{{6}}' Code=None: {entity} "
            "returned an object without Ref_Key",
            errors[f"raw__onec__{stream}"],
        ), errors[f"raw__onec__{stream}"]
    assert raw_onec("raw") == raw_onec(CLEAN_RAW)  # rows and cursors as they were
    assert not result.get_asset_check_evaluations()
    assert not _steps(result, "STEP_START") & {"dbt_staging", "raw_suites", "publish_marts"}
    assert _nothing_built_after_the_raw_gate(result)
    assert marts_fingerprint(client) == before
