"""Load exported source files into the raw layer, the way a backfill from dumps would.

The simulator's exporter writes each stream as Parquet `(id, payload)`, the payload being the
record as the API returns it. Loading is one Arrow insert into a scratch table and one
`INSERT … SELECT` into `raw.<source>__<stream>` in which ClickHouse derives the cursor and the
deletion flag from the JSON itself, so the timing is ClickHouse's and not Python's.
Each stream names here only what differs from the connector's own stream definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from clickhouse_connect.driver.client import Client

from funnelhouse.ingest.raw import CONTENT_MD5, RawStore, new_batch_id
from funnelhouse.ingest.sources import SOURCES


@dataclass(frozen=True)
class FileStream:
    source: str
    file: str  # the exporter's name for the stream
    stream: str  # the connector's name
    cursor: str = "''"  # SQL over `payload`
    deleted: str = "0"
    where: str = "1"


def _streams() -> list[FileStream]:
    json_int = "toString(JSONExtractInt(payload, '{}'))"
    special = {
        ("amocrm", "events"): FileStream(
            "amocrm", "events", "status_changes", json_int.format("created_at"),
            where="JSONExtractString(payload, 'type') = 'lead_status_changed'",
        ),
        ("amocrm", "leads_deleted"): FileStream(
            "amocrm", "leads_deleted", "leads", json_int.format("updated_at"), deleted="1"
        ),
    }  # fmt: skip
    out = []
    for source in SOURCES.values():
        for name in source.streams:
            if (source.name, name) == ("amocrm", "status_changes"):
                out.append(special[("amocrm", "events")])
                continue
            cursor, deleted = "''", "0"
            if source.name == "amocrm":
                cursor = json_int.format("updated_at")
                deleted = "JSONExtractBool(payload, 'is_deleted')"
            elif source.name == "uis":
                cursor = "JSONExtractString(payload, 'start_time')"
            elif source.name == "onec":
                cursor = "JSONExtractString(payload, 'DataVersion')"
                deleted = "JSONExtractBool(payload, 'DeletionMark')"
            out.append(FileStream(source.name, name, name, cursor, deleted))
            if (source.name, name) == ("amocrm", "leads"):
                # After the live list, as the connector reads them.
                out.append(special[("amocrm", "leads_deleted")])
    return out


FILE_STREAMS = _streams()
CHUNK_ROWS = 500_000


def load(client: Client, export_dir: Path) -> dict[str, int]:
    """Every stream file under `export_dir` into raw; returns rows per raw table."""
    store = RawStore(client)
    loaded: dict[str, int] = {}
    for fs in FILE_STREAMS:
        path = export_dir / fs.source / f"{fs.file}.parquet"
        if not path.exists():
            continue
        table = f"{fs.source}__{fs.stream}"
        store.ensure(table)
        batch = new_batch_id()
        scratch = f"raw._load_{table}"
        client.command(f"DROP TABLE IF EXISTS {scratch}")
        client.command(f"CREATE TABLE {scratch} (id String, payload String) ENGINE = Memory")
        try:
            for chunk in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
                client.insert_arrow(scratch, pa.Table.from_batches([chunk]))
                new_rows = (
                    f"SELECT id, {fs.cursor} AS _cursor, payload, '{fs.source}' AS _source, "
                    f"'{fs.stream}' AS _stream, '{batch}' AS _batch_id, now64(3) AS _loaded_at, "
                    f"toUInt8({fs.deleted}) AS _is_deleted, toUInt64(toUnixTimestamp64Nano("
                    "now64(9))) + rowNumberInAllBlocks() AS _version "
                    f"FROM {scratch} WHERE {fs.where}"
                )
                # As RawStore.write: an id whose records all match its stored newest version
                # is not written again; any other id is written whole.
                changed = (
                    f"SELECT id FROM ({new_rows}) WHERE (id, {CONTENT_MD5}) NOT IN ("
                    f"SELECT id, argMax({CONTENT_MD5}, _version) FROM raw.{table} "
                    f"WHERE id IN (SELECT id FROM {scratch}) GROUP BY id)"
                )
                client.command(
                    f"INSERT INTO raw.{table} (id, _cursor, payload, _source, _stream, "
                    "_batch_id, _loaded_at, _is_deleted, _version) "
                    "SELECT id, _cursor, payload, _source, _stream, _batch_id, _loaded_at, "
                    f"_is_deleted, _version FROM ({new_rows}) WHERE id IN ({changed})"
                )
                client.command(f"TRUNCATE TABLE {scratch}")
        finally:
            client.command(f"DROP TABLE IF EXISTS {scratch}")
        rows = int(client.command(f"SELECT count() FROM raw.{table} WHERE _batch_id = '{batch}'"))
        # The gate validates each stream's last committed batch.
        store.set_cursor(fs.source, fs.stream, "", batch, rows)
        loaded[table] = loaded.get(table, 0) + rows
    return loaded
