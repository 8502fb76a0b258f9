"""The raw layer's guarantees: versions replace each other, cursors survive, cluster DDL."""

from __future__ import annotations

import uuid

import pytest

from funnelhouse.ingest.raw import RawRecord, RawStore, cursor_table_ddl, raw_table_ddl
from funnelhouse.warehouse.client import get_client


@pytest.fixture
def store(warehouse):
    client = get_client(warehouse)
    db = f"raw_{uuid.uuid4().hex[:8]}"
    yield RawStore(client, database=db)
    client.command(f"DROP DATABASE IF EXISTS {db}")
    client.close()


def test_redelivered_record_replaces_earlier_version(store):
    first = [RawRecord.from_json({"id": i, "v": 1}, i, 100) for i in range(1, 4)]
    store.write("amocrm", "leads", "amocrm__leads", first, "b1")
    again = [RawRecord.from_json({"id": 2, "v": 2}, 2, 200),
             RawRecord.from_json({"id": 3, "v": 1}, 3, 100, is_deleted=True)]  # fmt: skip
    store.write("amocrm", "leads", "amocrm__leads", again, "b2")
    rows = store.client.query(
        f"SELECT id, JSONExtractInt(payload, 'v'), _is_deleted, _batch_id "
        f"FROM {store.database}.amocrm__leads FINAL ORDER BY id"
    ).result_rows
    assert rows == [("1", 1, 0, "b1"), ("2", 2, 0, "b2"), ("3", 1, 1, "b2")]
    assert store.stored_versions("amocrm__leads") == {"1": "100", "2": "200", "3": "100"}


def test_a_record_redelivered_as_stored_is_not_written_again(store):
    """Every sync re-reads a lookback window: a record stored as it is adds no version (nothing
    for staging to parse, nothing for the next run to rebuild); any difference does."""

    def lead(i, v=1, cursor=100, deleted=False):
        return RawRecord.from_json({"id": i, "name": "Сделка «Ромашка»", "v": v}, i, cursor,
                                   is_deleted=deleted)  # fmt: skip

    odd = RawRecord.from_json({"id": 'a\tb"c\n\\'}, 'a\tb"c\n\\', "")  # an id TSV would mangle
    assert (
        store.write("amocrm", "leads", "amocrm__leads", [*map(lead, range(1, 5)), odd], "b1") == 5
    )
    again = [lead(1), odd, lead(2, deleted=True), lead(3, v=2), lead(4, cursor=101), lead(5)]
    assert store.write("amocrm", "leads", "amocrm__leads", again, "b2") == 4
    rows = store.client.query(
        f"SELECT id, _batch_id FROM {store.database}.amocrm__leads FINAL ORDER BY id"
    ).result_rows
    assert rows == [("1", "b1"), ("2", "b2"), ("3", "b2"), ("4", "b2"), ("5", "b2"),
                    ('a\tb"c\n\\', "b1")]  # fmt: skip
    assert store.write("amocrm", "leads", "amocrm__leads", again, "b3") == 0
    # An id changed and changed back within one block: written whole, the last record wins.
    assert store.write("amocrm", "leads", "amocrm__leads", [lead(1, v=9), lead(1)], "b4") == 2
    assert (
        store.client.command(
            f"SELECT payload FROM {store.database}.amocrm__leads FINAL WHERE id = '1'"
        )
        == lead(1).payload
    )


def test_payload_keeps_unicode_and_unknown_fields(store):
    record = {"id": 7, "name": "Сделка «Ромашка»", "brand_new_field": {"x": [1, None]}}
    store.write("amocrm", "leads", "amocrm__leads", [RawRecord.from_json(record, 7, 1)], "b")
    payload = store.client.command(f"SELECT payload FROM {store.database}.amocrm__leads")
    assert payload == '{"id":7,"name":"Сделка «Ромашка»","brand_new_field":{"x":[1,null]}}'


def test_cursor_round_trip_keeps_latest(store):
    assert store.get_cursor("uis", "calls") is None
    store.set_cursor("uis", "calls", "2026-01-01 00:00:00", "b1", 10)
    store.set_cursor("uis", "calls", "2026-01-02 00:00:00", "b2", 5)
    assert store.get_cursor("uis", "calls") == "2026-01-02 00:00:00"


def test_cluster_ddl_is_valid_clickhouse(warehouse):
    client = get_client(warehouse)
    for ddl in (raw_table_ddl("uis__calls", "prod"), cursor_table_ddl("prod")):
        assert "ON CLUSTER 'prod'" in ddl
        assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}'" in ddl
        # The engine's own parser accepts it (it cannot run here: there is no cluster).
        ast = client.command(f"EXPLAIN AST {ddl}")
        assert "CreateQuery" in str(ast)
    assert "ON CLUSTER" not in raw_table_ddl("uis__calls", None)
    client.close()
