"""dbt-clickhouse, unmodified, against the warehouse: every materialization the marts use."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from dbt.cli.main import dbtRunner

from funnelhouse.warehouse.client import get_client

PROJECT = Path(__file__).parent / "dbt_compat"


@pytest.fixture
def dbt(warehouse, tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    schema = f"dbt_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CLICKHOUSE_HOST", warehouse.host)
    monkeypatch.setenv("CLICKHOUSE_PORT", str(warehouse.port))
    monkeypatch.setenv("DBT_COMPAT_SCHEMA", schema)
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)  # the copy's own target/ (read below)
    monkeypatch.chdir(project)
    client = get_client(warehouse)
    client.command(f"CREATE DATABASE {schema}_raw")
    client.command(
        f"CREATE TABLE {schema}_raw.calls (id UInt64, stage_id UInt32, talk_seconds UInt32, "
        "updated_at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree(updated_at) ORDER BY id"
    )

    def invoke(*args: str):
        result = dbtRunner().invoke(
            [*args, "--project-dir", str(project), "--profiles-dir", str(project)]
        )
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception}"
        return result

    yield invoke, client, schema
    for db in (schema, f"{schema}_raw"):
        client.command(f"DROP DATABASE IF EXISTS {db}")
    client.close()


def test_seed_run_test_incremental_and_docs(dbt):
    invoke, client, schema = dbt
    client.command(
        f"INSERT INTO {schema}_raw.calls VALUES (1, 10, 60, '2026-01-01 10:00:00'), "
        "(2, 10, 0, '2026-01-01 11:00:00'), (3, 20, 300, '2026-01-02 09:00:00')"
    )
    invoke("seed")
    invoke("run")
    test = invoke("test")
    assert len(test.result.results) == 7
    assert all(r.status == "pass" for r in test.result.results)
    rows = client.query(f"SELECT stage_name, calls, talk_seconds FROM {schema}.talk_by_stage "
                        "ORDER BY stage_name").result_rows  # fmt: skip
    assert rows == [("Proposal", 1, 300), ("Qualification", 2, 60)]

    # New and updated records: delete+insert replaces, append accumulates.
    client.command(
        f"INSERT INTO {schema}_raw.calls VALUES (2, 20, 45, '2026-01-03 08:00:00'), "
        "(4, 142, 90, '2026-01-03 09:00:00')"
    )
    invoke("run", "--select", "calls_latest", "calls_log")
    latest = client.query(f"SELECT call_id, stage_id, talk_seconds FROM {schema}.calls_latest "
                          "ORDER BY call_id").result_rows  # fmt: skip
    assert latest == [(1, 10, 60), (2, 20, 45), (3, 20, 300), (4, 142, 90)]
    assert client.command(f"SELECT count() FROM {schema}.calls_log") == 5
    invoke("test", "--select", "calls_latest")

    # A failing generic test is reported as a failure, not an error of the warehouse.
    client.command(f"INSERT INTO {schema}_raw.calls VALUES (5, 999, 1, '2026-01-04 00:00:00')")
    failing = dbtRunner().invoke(["test", "--select", "calls_view", "--project-dir", os.getcwd(),
                                  "--profiles-dir", os.getcwd()])  # fmt: skip
    statuses = {r.node.name.split("_calls_view")[0]: r.status for r in failing.result.results}
    assert statuses["relationships"] == "fail"
    assert statuses["accepted_values"] == "fail"

    invoke("docs", "generate")
    catalog = Path("target/catalog.json").read_text()
    assert "talk_by_stage" in catalog and "calls_latest" in catalog
