"""clickhouse-connect, unmodified, against the warehouse: what ingest and BI tools rely on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from funnelhouse.warehouse.client import get_client


@pytest.fixture
def client(warehouse):
    c = get_client(warehouse)
    yield c
    c.close()


@pytest.fixture
def db(client):
    name = f"t_{uuid.uuid4().hex[:10]}"
    client.command(f"CREATE DATABASE {name}")
    yield name
    client.command(f"DROP DATABASE IF EXISTS {name} SYNC")


@pytest.mark.parametrize("compress", [False, "lz4", "zstd", "gzip"])
def test_insert_df_and_query_df_round_trip(warehouse, db, compress):
    client = get_client(warehouse, compress=compress)
    client.command(
        f"CREATE TABLE {db}.calls (id UInt64, started_at DateTime64(3, 'UTC'), "
        "phone Nullable(String), talk Int32, tags Array(String)) ENGINE = MergeTree ORDER BY id"
    )
    df = pd.DataFrame(
        {
            "id": pd.array(range(1, 5001), dtype="uint64"),
            "started_at": pd.date_range("2026-01-01", periods=5000, freq="min", tz="UTC"),
            "phone": [None if i % 7 == 0 else f"+7916{i:07d}" for i in range(5000)],
            "talk": pd.array([i % 600 - 5 for i in range(5000)], dtype="int32"),
            "tags": [["hot", "партнёр"][: i % 3] for i in range(5000)],
        }
    )
    summary = client.insert_df(f"{db}.calls", df)
    assert summary.written_rows == 5000
    back = client.query_df(f"SELECT * FROM {db}.calls ORDER BY id")
    assert len(back) == 5000
    assert back["id"].tolist() == df["id"].tolist()
    assert back["phone"].isna().sum() == df["phone"].isna().sum()
    assert list(back.loc[1, "tags"]) == ["hot"]
    assert list(back.loc[2, "tags"]) == ["hot", "партнёр"]
    assert back["talk"].min() == -5
    # clickhouse-connect hands UTC columns back as naive UTC timestamps.
    assert back["started_at"].iloc[-1] == df["started_at"].iloc[-1].tz_localize(None)
    client.close()


def test_insert_arrow_and_query_arrow(client, db):
    client.command(f"CREATE TABLE {db}.t (k String, v Float64) ENGINE = MergeTree ORDER BY k")
    table = pa.table({"k": ["a", "b", "c"], "v": [1.5, 2.5, None]})
    client.insert_arrow(f"{db}.t", table)
    out = client.query_arrow(f"SELECT k, v FROM {db}.t ORDER BY k")
    assert out.column("k").to_pylist() == ["a", "b", "c"]
    assert out.column("v").to_pylist()[:2] == [1.5, 2.5]


def test_row_insert_and_typed_query(client, db):
    client.command(
        f"CREATE TABLE {db}.deals (id UInt32, name String, amount Decimal(18, 2), "
        "created DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY id"
    )
    rows = [[1, "Сделка #1", 25000.5, datetime(2026, 3, 1, 10, tzinfo=UTC)],
            [2, "Сделка #2", 0, datetime(2026, 3, 2, 11, tzinfo=UTC)]]  # fmt: skip
    client.insert(f"{db}.deals", rows, column_names=["id", "name", "amount", "created"])
    result = client.query(f"SELECT id, name, amount, created FROM {db}.deals ORDER BY id")
    assert result.result_rows[0][1] == "Сделка #1"
    assert float(result.result_rows[0][2]) == 25000.5
    assert result.result_rows[1][3] == datetime(2026, 3, 2, 11)  # naive UTC, as from a server
    assert result.column_names == ("id", "name", "amount", "created")


def test_server_side_parameters(client):
    result = client.query(
        "SELECT {n:UInt32} + 1 AS n, {s:String} AS s", parameters={"n": 41, "s": "it's"}
    )
    assert result.result_rows == [(42, "it's")]


def test_client_side_parameters(client):
    result = client.query("SELECT %(a)s AS a, %(b)s AS b", parameters={"a": 7, "b": "x'y"})
    assert result.result_rows == [(7, "x'y")]


def test_streaming_large_result(client):
    total = 0
    blocks = 0
    with client.query_row_block_stream("SELECT number FROM numbers(2000000)") as stream:
        for block in stream:
            blocks += 1
            total += sum(row[0] for row in block)
    assert total == sum(range(2000000))
    assert blocks > 1


def test_errors_raise_database_error_with_code(client):
    with pytest.raises(DatabaseError) as err:
        client.query("SELECT * FROM no_such_db.no_such_table")
    assert "Code: 81" in str(err.value) or "Code: 60" in str(err.value)
    with pytest.raises(DatabaseError) as err:
        client.command("SELEC 1")
    assert "Code: 62" in str(err.value)
    # The client (and its session) keeps working after errors.
    assert client.command("SELECT 1") == 1


def test_settings_apply_to_one_query(client):
    assert client.command("SELECT getSetting('max_threads')", settings={"max_threads": 1}) == 1
    assert client.command("SELECT getSetting('max_threads')") != 1


def test_summary_counts_real_rows(client, db):
    client.command(f"CREATE TABLE {db}.n (x UInt64) ENGINE = MergeTree ORDER BY x")
    summary = client.command(f"INSERT INTO {db}.n SELECT number FROM numbers(1234)")
    assert summary.written_rows == 1234
    res = client.query(f"SELECT sum(x) FROM {db}.n")
    assert res.summary["read_rows"] == "1234"


def test_session_temporary_tables_are_private(warehouse):
    a, b = get_client(warehouse), get_client(warehouse)
    a.command("CREATE TEMPORARY TABLE tmp_private (x UInt8)")
    a.command("INSERT INTO tmp_private VALUES (1)")
    assert a.command("SELECT count() FROM tmp_private") == 1
    with pytest.raises(DatabaseError):
        b.command("SELECT count() FROM tmp_private")
    a.close()
    b.close()
