"""An incremental run over new raw versions builds exactly what a full refresh builds.

The hourly run parses only the raw versions loaded since the last run (incremental staging,
macros/incremental_staging.sql) and replaces those records' rows; users rely on it giving
the same marts as rebuilding everything. The golden company is built, a later sync brings
changed, new, deleted and filtered-out records, the incremental build runs, and every table
of staging, intermediate and the candidate marts must be byte-identical to a
`--full-refresh` over the same raw data. A period mart (macros/period_replace.sql) must do so
while rewriting only the months whose input changed, whatever number of months it rebuilds
per statement, after a changed definition, and after a run that died half-way.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.dbt import golden_data as g
from tests.dbt.conftest import dbt_build, golden_project, load, load_golden, reset_pipeline

pytestmark = pytest.mark.slow  # full and incremental builds of a company

LAYERS = ("staging", "intermediate", "marts_candidate", "marts_candidate_periods")


def _later_sync(store) -> None:
    """The next hour's raw versions: updates, new records, deletions, a record that leaves a
    model's filter (a 1C counterparty turned into a folder), a stage change in the past of a
    closed deal, a CRM user added (int_managers matches a telephony employee to it), a call in
    a week that began the month before."""
    time.sleep(0.01)  # a later sync: raw's load time (milliseconds) tells the two apart
    repriced = {**g.LEADS[3], "price": 95_000, "status_id": 142, "updated_at": g.ts("03-20T10:00"),
                "closed_at": g.ts("03-20T10:00")}  # fmt: skip
    load(store, "amocrm__leads", [repriced, {**g.LEADS[4], "is_deleted": True}], "id",
         "updated_at", lambda r: r["is_deleted"])  # fmt: skip
    events = [g._event(9, 4, "03-20T10:00", 10, 142), g._event(10, 3, "02-19T10:00", 20, 10)]
    load(store, "amocrm__status_changes", events, "id")
    # A new CRM user: the telephony employee of that name, unmatched so far, now is.
    load(store, "amocrm__users", [{"id": 503, "name": "Пётр Сидоров"}], "id")
    load(store, "uis__calls", [g.CALLS[1]], "id", deleted=lambda r: True)
    # 1012 on a Sunday whose week began in February: it feeds two months of a period mart.
    load(store, "uis__calls", [g._call(1011, "03-20T09:00", "out", 75, "79990000001"),
                               g._call(1012, "03-01T12:00", "in", 30, "79990000001"),
                               {**g.CALLS[2], "talk_duration": 0}], "id")  # fmt: skip
    load(store, "amocrm__call_notes", [g.NOTES[1]], "id", deleted=lambda r: True)
    load(store, "onec__sales", [{**g.SALES[0], "СуммаДокумента": 120_000}], "Ref_Key")
    load(store, "onec__counterparties", [{**g.COUNTERPARTIES[2], "IsFolder": True}], "Ref_Key")


def _tables(query) -> dict[str, str]:
    """Every table of the built layers, its rows in a canonical order as TSV text."""
    names = query(
        "SELECT database, name FROM system.tables WHERE database IN {layers:Array(String)} "
        "AND engine NOT LIKE '%View' ORDER BY database, name",
        {"layers": list(LAYERS)},
    )
    return {
        f"{db}.{name}": query(f"SELECT * FROM `{db}`.`{name}` ORDER BY ALL FORMAT TabSeparated")
        for db, name in names
    }


@dataclass(frozen=True)
class Builds:
    """The module's builds (every table of the layers, as TSV text) and what the tests run
    further builds and queries with."""

    first: dict[str, str]  # the golden company, each period mart in one statement
    incremental: dict[str, str]  # after the later sync
    full: dict[str, str]  # a --full-refresh of the same raw data
    months: dict[str, Any]  # call_load_by_stage's months: changed, rebuilt, all; same table
    calls_build: dict[str, int]  # int_calls__last_build of the incremental run
    query: Callable[..., Any]
    build: Callable[..., dict[str, str]]
    store: Any
    project: Path


@pytest.fixture(scope="module")
def builds(warehouse, tmp_path_factory) -> Builds:
    store = reset_pipeline(warehouse)
    project = golden_project(tmp_path_factory)

    def query(sql: str, parameters: dict | None = None):
        if "FORMAT TabSeparated" in sql:
            return store.client.raw_query(sql).decode()
        if sql.startswith(("INSERT", "ALTER")):
            return store.client.command(sql, parameters=parameters)
        return store.client.query(sql, parameters=parameters).result_rows

    def build(*args: str) -> dict[str, str]:
        dbt_build(warehouse, "--vars", g.VARS, *args, project_dir=project)
        return _tables(query)

    load_golden(store)
    # The first build makes each period mart in one statement, the full refresh month by
    # month, the incremental run in batches of the default size: the batch size must not
    # change a row (a week that starts in one month feeds the next month's batch too).
    first = build("--vars", _batches_of(1000))  # more months per batch than the data has
    calls_before, parts_before, table = _calls_by_month(query), _mart_parts(query), _uuid(query)
    _later_sync(store)
    incremental = build()
    calls_build = dict(zip(("full", "changed_keys", "recomputed_rows", "rows"),
                           query("SELECT * FROM intermediate_changes.int_calls__last_build")[0],
                           strict=True))  # fmt: skip
    same_table = _uuid(query) == table
    last_block = max(block for _, _, block in parts_before)
    parts_after = _mart_parts(query)
    months = {
        "changed": {m for row in _calls_by_month(query) ^ calls_before for m in row[1]},
        # Written since (a REPLACE PARTITION's parts take new block numbers; background
        # merges keep a part's block range) or dropped.
        "rebuilt": {m for m, first_block, _ in parts_after if first_block > last_block}
        | ({m for m, _, _ in parts_before} - {m for m, _, _ in parts_after}),
        "all": {m for m, _, _ in parts_before},
        "same table": same_table,
    }
    full = build("--full-refresh", "--vars", _batches_of(1))
    return Builds(first, incremental, full, months, calls_build, query, build, store, project)


def _batches_of(months: int) -> str:
    """dbt vars that rebuild a period mart's months `months` at a time."""
    return json.dumps({**json.loads(g.VARS), "period_months_per_batch": months})


def _calls_by_month(query) -> set[tuple[str, tuple[int, ...]]]:
    """int_calls' rows, each with the months of call_load_by_stage it feeds (its local day's
    and its local week's Monday's), computed here independently of the model's macros."""
    rows = query(
        "SELECT toString(tuple(*)), arraySort(arrayDistinct(["
        "toYYYYMM(toDate(started_at, 'Europe/Moscow')), "
        "toYYYYMM(toMonday(toDate(started_at, 'Europe/Moscow')))])) FROM intermediate.int_calls"
    )
    return {(row, tuple(months)) for row, months in rows}


def _uuid(query) -> str:
    return str(query("SELECT uuid FROM system.tables WHERE database = 'marts_candidate' "
                     "AND name = 'call_load_by_stage'")[0][0])  # fmt: skip


def _mart_parts(query) -> list[tuple[int, int, int]]:
    """(month, first block, last block) of call_load_by_stage's active parts."""
    return [
        (int(partition), first, last)
        for partition, first, last in query(
            "SELECT partition, min_block_number, max_block_number FROM system.parts "
            "WHERE active AND database = 'marts_candidate' AND table = 'call_load_by_stage'"
        )
    ]


def test_incremental_run_equals_full_refresh(builds):
    first, incremental, full, months = builds.first, builds.incremental, builds.full, builds.months
    # The full refresh went month by month, the first build in one statement: only with
    # several months does that compare batch sizes.
    assert len(months["all"]) >= 3, "too few months to cut into batches"
    assert incremental.keys() == full.keys()
    different = {
        name: "\n".join(difflib.unified_diff(full[name].splitlines(),
                                             incremental[name].splitlines(), lineterm="", n=0))
        for name in full
        if incremental[name] != full[name]
    }  # fmt: skip
    assert different == {}, f"incremental run (+) and full refresh (-) differ: {different}"
    # The later sync changed the marts: the comparison is not of two unchanged builds.
    changed = [n for n in full if n.startswith("marts_candidate.") and full[n] != first[n]]
    assert "marts_candidate.conversion_gross" in changed


def test_a_period_mart_rebuilds_only_the_months_whose_calls_changed(builds):
    """call_load_by_stage (macros/period_replace.sql) replaces the partitions (months of
    period_start) that changed calls feed and keeps every other month's parts as they were;
    that it still equals a full refresh is the test above."""
    months = builds.months
    assert months["same table"], "call_load_by_stage was rebuilt whole, not month by month"
    assert months["changed"], "the later sync changed no call: nothing was tested"
    assert months["rebuilt"] == months["changed"]
    assert months["all"] - months["changed"], "every month changed: nothing was kept"


def test_int_calls_recomputes_only_the_calls_whose_inputs_changed(builds):
    """int_calls (macros/key_replace.sql) recomputed the calls the later sync can change and
    copied the rest; that it still equals a full refresh is the first test."""
    calls_build = builds.calls_build
    assert calls_build["full"] == 0, "int_calls recomputed every call"
    assert calls_build["changed_keys"] > 0
    assert 0 < calls_build["recomputed_rows"] < calls_build["rows"], calls_build


def test_deleted_and_filtered_records_leave_staging(builds):
    query = builds.query
    assert query("SELECT count() FROM staging.stg_uis__calls WHERE call_id = 'uis:1002'") == [(0,)]
    assert query("SELECT count() FROM staging.stg_amocrm__call_notes "
                 "WHERE note_id = 'amocrm:note:1'") == [(0,)]  # fmt: skip
    assert query("SELECT count() FROM staging.stg_onec__counterparties "
                 f"WHERE counterparty_id = 'onec:{g.K3}'") == [(0,)]  # fmt: skip
    # One row per record, without FINAL, in every incremental staging table.
    assert query("SELECT count(), uniqExact(call_id) FROM staging.stg_uis__calls") == [(11, 11)]
    assert query("SELECT is_deleted FROM staging.stg_amocrm__leads "
                 "WHERE deal_id = 'amocrm:5'") == [(True,)]  # fmt: skip


def test_incremental_run_parses_only_versions_after_the_watermark(builds):
    """A raw version older than what staging already holds is not read again: the run costs
    what the new data costs. (A full refresh reads every record's latest version.)"""
    query, build = builds.query, builds.build
    old = query("SELECT min(_raw_version) FROM staging.stg_uis__calls")[0][0]
    query(
        "INSERT INTO raw.uis__calls (id, payload, _source, _stream, _batch_id, _loaded_at, "
        "_version) SELECT '1099', payload, 'uis', 'calls', 'test', _loaded_at, {v:UInt64} "
        "FROM raw.uis__calls "
        "WHERE id = '1001' LIMIT 1",
        {"v": old - 1},
    )
    build()
    assert query("SELECT count() FROM staging.stg_uis__calls WHERE call_id = 'uis:1099'") == [(0,)]
    build("--full-refresh")
    assert query("SELECT count() FROM staging.stg_uis__calls WHERE call_id = 'uis:1099'") == [(1,)]


def test_a_period_mart_left_half_replaced_is_mended_by_the_next_run(builds):
    """A run killed after replacing a month but before writing the fingerprints leaves the
    month's rows and its stored fingerprint out of step; the next run must redo that month.
    Simulated on the built mart: the month's rows lost, its fingerprint stale."""
    query, build = builds.query, builds.build
    mart = "marts_candidate.call_load_by_stage"
    month = min(m for m, _, _ in _mart_parts(query))
    query(f"ALTER TABLE {mart} DELETE WHERE toYYYYMM(period_start) = {month} "
          "SETTINGS mutations_sync = 2")  # fmt: skip
    query("ALTER TABLE marts_candidate_periods.call_load_by_stage__periods UPDATE hash = 0 "
          f"WHERE month = {month} SETTINGS mutations_sync = 2")  # fmt: skip
    mended = build("--select", "call_load_by_stage")[mart]
    assert mended == build("--select", "call_load_by_stage", "--full-refresh")[mart]


def test_a_period_mart_is_rebuilt_whole_when_its_definition_changes(builds):
    """Months are cut in the business time zone: with another zone no call changed, yet every
    month's rows do. The fingerprints carry the compiled SQL's hash, so the next incremental
    build rebuilds every month and equals a full refresh (kept months would be stale)."""
    query, build = builds.query, builds.build
    other = json.dumps({**json.loads(g.VARS), "business_timezone": "Asia/Vladivostok"})
    mart = "marts_candidate.call_load_by_stage"
    before = _uuid(query)
    incremental = build("--vars", other, "--select", "call_load_by_stage")[mart]
    assert _uuid(query) != before
    assert incremental == build("--vars", other, "--select", "call_load_by_stage",
                                "--full-refresh")[mart]  # fmt: skip
    assert incremental != builds.full[mart], "the other zone cut the same months"


def test_a_restored_deal_takes_back_the_calls_its_crm_links_to(builds):
    """L7 was deleted when its note linked call 1010 to it, so the phone rule gave the call
    to L5. Restored, L7 takes the call back by the link, though neither the call, its link,
    its phone's deals nor its operator changed: only the deal did."""
    query, build, store = builds.query, builds.build, builds.store
    assert query("SELECT deal_id FROM intermediate.int_calls WHERE call_id = 'uis:1010'") != [
        ("amocrm:7",)
    ]
    time.sleep(0.01)
    restored = {**g.LEADS[6], "is_deleted": False, "updated_at": g.ts("03-21T10:00")}
    load(store, "amocrm__leads", [restored], "id", "updated_at")
    build("--select", "+int_calls", "--exclude-resource-type", "test")  # marts left as they are
    assert query("SELECT deal_id, attribution FROM intermediate.int_calls "
                 "WHERE call_id = 'uis:1010'") == [("amocrm:7", "crm_link")]  # fmt: skip
    assert query("SELECT full FROM intermediate_changes.int_calls__last_build") == [(0,)]


def test_int_calls_is_rebuilt_whole_after_an_edit_or_while_small(builds):
    """Below `key_replace_min_rows` the model is rebuilt whole and keeps no fingerprints, so
    the first run above it cannot compare with fingerprints older than its rows. Rows kept from
    builds of another definition may be stale (a narrower changes_only() condition may have
    missed calls): an edit of the model recomputes every call."""
    query, build, project = builds.query, builds.build, builds.project
    model = project / "models" / "intermediate" / "int_calls.sql"
    text = model.read_text()
    calls = query("SELECT count() FROM intermediate.int_calls")[0][0]
    last_build = "SELECT full, recomputed_rows FROM intermediate_changes.int_calls__last_build"
    only = ("--select", "int_calls", "--exclude-resource-type", "test")
    build(*only)
    assert query(last_build) == [(0, 0)]  # nothing changed since the last build
    small = json.dumps({**json.loads(g.VARS), "key_replace_min_rows": calls + 1})
    build("--vars", small, *only)
    assert query(last_build) == [(1, calls)]
    assert query("SELECT count() FROM system.tables WHERE database = 'intermediate_changes' "
                 "AND name LIKE 'int_calls__keys%'") == [(0,)]  # fmt: skip
    build(*only)
    assert query(last_build) == [(1, calls)]
    build(*only)
    assert query(last_build) == [(0, 0)]  # fingerprints again
    try:
        model.write_text(text.replace("or call_id in", "or  call_id in", 1))
        build(*only)
        assert query(last_build) == [(1, calls)]
    finally:
        model.write_text(text)
