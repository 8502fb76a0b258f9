"""What the CLI prints for programs (CSV, JSON) and for people (rich tables)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TextIO
from uuid import UUID

from clickhouse_connect.driver.client import Client


def _plain(value: Any) -> Any:
    """JSON has no dates, decimals or UUIDs: ISO strings and numbers as text keep them exact."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def write_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, out: TextIO | None = None
) -> None:
    """`csv`: a header line, then RFC 4180 rows; `json`: an array of objects."""
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
    elif fmt == "json":
        objects = [dict(zip(columns, map(_plain, row), strict=True)) for row in rows]
        json.dump(objects, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        raise ValueError(f"unknown format {fmt!r}: csv or json")


def print_status(client: Client, database: str, stale_seconds: float) -> None:
    """The `funnelhouse status` table: stale or never-loaded streams in colour."""
    from rich.console import Console
    from rich.table import Table

    from funnelhouse.ingest.status import age_text, stream_status

    now = datetime.now(UTC)
    title = f"raw streams in `{database}` (stale after {age_text(stale_seconds)})"
    table = Table("stream", "rows in raw", "cursor", "last load (UTC)", "last load rows", "age",
                  title=title)  # fmt: skip
    stale = 0
    for s in stream_status(client, database):
        age = s.age_seconds(now)
        late = age is None or age > stale_seconds
        stale += late
        table.add_row(
            f"{s.source}/{s.stream}",
            "-" if s.rows is None else f"{s.rows:,}",
            s.cursor or "-",
            s.loaded_at.strftime("%Y-%m-%d %H:%M:%S") if s.loaded_at else "never",
            "-" if s.last_rows is None else f"{s.last_rows:,}",
            f"[{'red' if late else 'green'}]{age_text(age)}[/]",
        )
    console = Console(width=max(Console().width, 120))
    console.print(table)
    if stale:
        console.print(f"{stale} streams never loaded or older than {age_text(stale_seconds)}: "
                      "`funnelhouse run` loads them; `funnelhouse sources check` tests the "
                      "connections.")  # fmt: skip
