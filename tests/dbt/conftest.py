"""Fixtures for running the real dbt project against the test warehouse."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from dbt.cli.main import dbtRunnerResult

from funnelhouse.dbt import DBT_PROJECT_DIR, run_dbt
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.sources import SOURCES
from funnelhouse.warehouse.client import get_client

PIPELINE_DATABASES = (
    "raw",
    "staging",
    "intermediate",
    "intermediate_changes",
    "marts_candidate",
    "marts_candidate_periods",
    "marts",
)


def golden_project(tmp_path_factory) -> Path:
    """A copy of the dbt project whose seeds are the golden company's plans and bonus rules."""
    from tests.dbt import golden_data as g

    project = tmp_path_factory.mktemp("dbt") / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "seeds" / "manager_plans.csv").write_text(g.PLANS)
    (project / "seeds" / "manager_bonus_rules.csv").write_text(g.BONUS_RULES)
    return project


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
    rows = [RawRecord.from_json(r, r[id_key], r.get(cursor_key) if cursor_key else None,
                                deleted(r)) for r in records]  # fmt: skip
    store.write(source, stream, table, rows, "golden")


def dbt_build(warehouse, *args: str, project_dir=DBT_PROJECT_DIR) -> dbtRunnerResult:
    return run_dbt("build", *args, settings=warehouse, project_dir=project_dir)


def load_golden(store: RawStore) -> None:
    """The hand-written company of golden_data.py into every raw table it touches."""
    from tests.dbt import golden_data as g

    load(store, "amocrm__leads", g.LEADS, "id", "updated_at", lambda r: r["is_deleted"])
    load(store, "amocrm__status_changes", g.EVENTS, "id", "created_at")
    load(store, "amocrm__pipelines", g.PIPELINES, "id")
    load(store, "amocrm__users", [{"id": k, "name": v} for k, v in g.USERS.items()], "id")
    load(store, "amocrm__call_notes", g.NOTES, "id", "updated_at")
    load(store, "amocrm__contacts", g.CONTACTS, "id")
    load(store, "amocrm__companies", g.COMPANIES, "id")
    load(store, "amocrm__tasks", g.TASKS, "id", "updated_at")
    load(store, "uis__calls", g.CALLS, "id", "start_time")
    load(store, "bitrix24__deals", g.B24_DEALS, "ID", "DATE_MODIFY")
    load(store, "bitrix24__stage_history", g.B24_HISTORY, "ID", "ID")
    load(store, "bitrix24__stages", g.B24_STATUSES, "ID")
    load(store, "bitrix24__categories", g.B24_CATEGORIES, "id")
    load(store, "bitrix24__users", g.B24_USERS, "ID")
    load(store, "bitrix24__calls", g.B24_CALLS, "ID", "ID")
    load(store, "bitrix24__activities", g.B24_ACTIVITIES, "ID")
    load(store, "bitrix24__product_rows", g.B24_REMOVED_ROWS, "id")
    time.sleep(0.01)  # a later sync: raw's load time (milliseconds) tells the two reads apart
    load(store, "bitrix24__product_rows", g.B24_PRODUCT_ROWS, "id")
    load(store, "amocrm__catalog_elements", g.CATALOG_ELEMENTS, "id")
    load(store, "onec__counterparties", g.COUNTERPARTIES, "Ref_Key", "DataVersion")
    load(store, "onec__sales", g.SALES, "Ref_Key", "DataVersion")
    load(store, "onec__payments", g.PAYMENTS, "Ref_Key", "DataVersion")
