"""The raw suites: one per raw table, generated from the ingest stream specs, blocking what
only a comparison of loads shows (an id with two records in the last load, ids lost since the
last passed gate), so the record-level checks can live in the staging models' dbt tests."""

from __future__ import annotations

from funnelhouse.expectations.gate import previous_counts, record_counts
from funnelhouse.expectations.runner import TableSuite, Validator
from funnelhouse.expectations.suites import raw_suites
from funnelhouse.ingest.raw import RawRecord
from funnelhouse.orchestration.assets.ingest import ingest_assets
from tests.dbt.conftest import reset_pipeline


def _suite(table: str, counts: dict[str, int] | None = None) -> TableSuite:
    [suite] = [s for s in raw_suites(counts) if s.relation == f"raw.{table}"]
    return suite


def _call(call_id: int, talk: int) -> RawRecord:
    return RawRecord.from_json({"id": call_id, "talk_duration": talk}, call_id, "1")


def test_every_ingested_raw_table_has_one_suite_named_for_what_it_checks():
    suites = raw_suites()
    assert sorted(s.relation for s in suites) == sorted(
        ".".join(k.path) for a in ingest_assets() for k in a.keys
    )
    assert {s.check_name for s in suites} == {"ids_unique_and_kept"}


def test_conflicting_ids_in_the_last_load_and_lost_ids_fail(warehouse, tmp_path):
    store = reset_pipeline(warehouse)
    client = store.client
    validator = Validator(warehouse, tmp_path / "docs")
    store.write("uis", "calls", "uis__calls", [_call(1, 10), _call(2, 20), _call(3, 30)], "b1")
    store.set_cursor("uis", "calls", "1", "b1", 3)
    first = validator.validate(_suite("uis__calls", previous_counts(client)))
    assert first.success, [f.describe() for f in first.failures]
    record_counts(client, first)
    assert previous_counts(client)["raw.uis__calls"] == 3

    # The next load: call 2 came twice with different records (ingest keeps one and notes the
    # conflict), and call 3 is gone from raw.
    twice = [_call(2, 21).payload, _call(2, 22).payload]
    store.write("uis", "calls", "uis__calls", [_call(2, 22)], "b2")
    store.write_conflicts("uis", "calls", "b2", {"2": twice})
    store.set_cursor("uis", "calls", "1", "b2", 1)
    client.command("DELETE FROM raw.uis__calls WHERE id = '3'")
    second = validator.validate(_suite("uis__calls", previous_counts(client)))
    failed = {f.description: f for f in second.failures}
    assert set(failed) == {
        "uis/calls: ids unique per version in the last load",
        "raw.uis__calls: ids not below the last passed gate's (3)",
    }
    assert failed["uis/calls: ids unique per version in the last load"].unexpected_count == 1

    # A later load brings a new call and no conflict: the earlier load's conflict is history.
    store.write("uis", "calls", "uis__calls", [_call(4, 40)], "b3")
    store.set_cursor("uis", "calls", "1", "b3", 1)
    third = validator.validate(_suite("uis__calls", previous_counts(client)))
    assert third.success, [f.describe() for f in third.failures]
