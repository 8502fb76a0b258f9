"""Great Expectations validates warehouse tables through clickhouse-connect's SQLAlchemy dialect,
computing unexpected counts in SQL rather than pulling the table into memory."""

from __future__ import annotations

import uuid

import great_expectations as gx
import great_expectations.expectations as gxe
import pytest

from funnelhouse.warehouse.client import get_client


@pytest.fixture
def calls_table(warehouse):
    client = get_client(warehouse)
    db = f"gx_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE DATABASE {db}")
    client.command(
        f"CREATE TABLE {db}.calls (id Nullable(UInt64), direction String, talk_seconds Int32) "
        "ENGINE = MergeTree ORDER BY tuple()"
    )
    # 1000 rows: 3 null ids, 2 duplicated ids, 4 negative durations, 5 unknown directions.
    client.command(
        f"INSERT INTO {db}.calls SELECT if(number IN (10, 20, 30), NULL, "
        "if(number IN (40, 41), 39, number)), if(number % 200 = 7, 'sideways', "
        "if(number % 2 = 0, 'in', 'out')), if(number IN (1, 2, 3, 4), -5, toInt32(number % 300)) "
        "FROM numbers(1000)"
    )
    yield db
    client.command(f"DROP DATABASE {db}")
    client.close()


def test_sql_expectations_count_unexpected_rows(warehouse, calls_table):
    context = gx.get_context(mode="ephemeral")
    url = f"clickhousedb://default:@{warehouse.host}:{warehouse.port}/{calls_table}"
    source = context.data_sources.add_sql(name="warehouse", connection_string=url)
    asset = source.add_table_asset(name="calls", table_name="calls")
    batch = asset.add_batch_definition_whole_table("all").get_batch()
    expected = {
        gxe.ExpectColumnValuesToNotBeNull(column="id"): 3,
        gxe.ExpectColumnValuesToBeUnique(column="id"): 3,  # 39 three times
        gxe.ExpectColumnValuesToBeBetween(column="talk_seconds", min_value=0): 4,
        gxe.ExpectColumnValuesToBeInSet(column="direction", value_set=["in", "out"]): 5,
    }
    for expectation, unexpected in expected.items():
        result = batch.validate(expectation)
        assert not result.success
        assert result.result["unexpected_count"] == unexpected, expectation
    assert batch.validate(gxe.ExpectTableRowCountToEqual(value=1000)).success
