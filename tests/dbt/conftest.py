"""Fixtures for running the real dbt project against the test warehouse."""

from __future__ import annotations

import json

from funnelhouse.dbt import DBT_PROJECT_DIR, run_dbt
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.sources import SOURCES
from funnelhouse.warehouse.client import get_client

PIPELINE_DATABASES = ("raw", "staging", "intermediate", "marts_candidate", "marts")


def reset_pipeline(warehouse) -> RawStore:
    """Every raw table created and empty, and no dbt output: a clean start for one test."""
    client = get_client(warehouse)
    for db in PIPELINE_DATABASES:
        client.command(f"DROP DATABASE IF EXISTS {db} SYNC")
    store = RawStore(client)
    for source in SOURCES.values():
        for stream in source.streams.values():
            store.ensure(stream.table)
    return store


def load(store: RawStore, table: str, records: list[dict], id_key: str, cursor_key=None,
         deleted=lambda r: False) -> None:  # fmt: skip
    source, stream = table.split("__")
    rows = [RawRecord(str(r[id_key]), str(r.get(cursor_key, "") if cursor_key else ""),
                      json.dumps(r, ensure_ascii=False), deleted(r)) for r in records]  # fmt: skip
    store.write(source, stream, table, rows, "golden")


def dbt_build(warehouse, *args: str, project_dir=DBT_PROJECT_DIR) -> None:
    run_dbt("build", "--exclude", "smoke", *args, settings=warehouse, project_dir=project_dir)
