"""`funnelhouse status`: what the last syncs loaded, read from the warehouse itself.

The cursor table (`raw._cursors`) records every committed sync: stream, cursor, batch, rows and
when; each raw table holds what is stored. Together they say per stream how much is there, how
far the cursor got and how old the newest load is, without Dagster's run history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from funnelhouse.ingest.raw import CURSORS_TABLE, RAW_DATABASE
from funnelhouse.ingest.sources import SOURCES


@dataclass(frozen=True)
class StreamStatus:
    source: str
    stream: str
    rows: int | None  # rows stored in raw (all versions not yet merged away); None: no table
    cursor: str | None
    last_rows: int | None  # rows the last sync loaded
    loaded_at: datetime | None  # when the last sync committed (UTC)

    def age_seconds(self, now: datetime) -> float | None:
        return (now - self.loaded_at).total_seconds() if self.loaded_at else None


def stream_status(client: Client, database: str = RAW_DATABASE) -> list[StreamStatus]:
    """Every stream of every source, loaded or not, in the order of `SOURCES`."""
    exists = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows
    tables = {r[0] for r in exists}
    cursors: dict[tuple[str, str], tuple[str, int, datetime]] = {}
    if CURSORS_TABLE in tables:
        for source, stream, cursor, rows, at in client.query(
            f"SELECT source, stream, cursor, rows, updated_at FROM {database}.{CURSORS_TABLE} FINAL"
        ).result_rows:
            cursors[(source, stream)] = (cursor, rows, at)
    out = []
    for source in SOURCES.values():
        for stream in source.streams.values():
            count = (
                int(client.command(f"SELECT count() FROM {database}.{stream.table}"))
                if stream.table in tables
                else None
            )
            cursor, rows, at = cursors.get((source.name, stream.name), (None, None, None))
            out.append(
                StreamStatus(source.name, stream.name, count, cursor or None, rows,
                             at.replace(tzinfo=UTC) if at and at.tzinfo is None else at)
            )  # fmt: skip
    return out


def age_text(seconds: float | None) -> str:
    """`42 s`, `17 min`, `5.2 h`, `3.1 d`, or `never`."""
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"
