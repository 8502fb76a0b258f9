"""`funnelhouse demo`: the whole path on the embedded default, end to end.

Foundation stage: start the warehouse, insert rows through clickhouse-connect, build a dbt model
over them, and print it. The real pipeline (sources, ingest, marts, gate) replaces the middle.
"""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from funnelhouse.dbt import run_dbt
from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.embedded import process
from funnelhouse.warehouse.settings import WarehouseSettings

console = Console()


def print_query(settings: WarehouseSettings, sql: str, title: str | None = None) -> int:
    client = get_client(settings)
    try:
        result = client.query(sql)
    finally:
        client.close()
    table = Table(title=title, show_lines=False)
    for name in result.column_names:
        table.add_column(name)
    for row in result.result_rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    return len(result.result_rows)


def run_smoke(settings: WarehouseSettings) -> None:
    client = get_client(settings)
    try:
        client.command("CREATE DATABASE IF NOT EXISTS raw")
        client.command(
            "CREATE TABLE IF NOT EXISTS raw.smoke_events (id UInt64, channel String, "
            "talk_seconds UInt32) ENGINE = ReplacingMergeTree ORDER BY id"
        )
        client.command("TRUNCATE TABLE raw.smoke_events")
        channels = ["site", "partner", "cold_call", "referral"]
        df = pd.DataFrame(
            {
                "id": range(1, 1001),
                "channel": [channels[i % 4] for i in range(1000)],
                "talk_seconds": [(i * 37) % 600 for i in range(1000)],
            }
        )
        client.insert_df("raw.smoke_events", df)
    finally:
        client.close()
    run_dbt("build", "--select", "warehouse_smoke", settings=settings)


def demo(settings: WarehouseSettings, keep_running: bool = False) -> None:
    started = process.start_background(settings) if settings.is_embedded_default else None
    try:
        console.print(f"warehouse: {settings.http_url}")
        run_smoke(settings)
        rows = print_query(
            settings,
            "SELECT * FROM smoke.warehouse_smoke ORDER BY channel",
            "smoke.warehouse_smoke",
        )
        if rows == 0:
            raise RuntimeError("the smoke model is empty")
    finally:
        if started and not keep_running:
            process.stop_background(settings)
