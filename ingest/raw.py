"""The raw layer: one ReplacingMergeTree table per stream, and the cursors that track them.

Each row is a record as the source sent it (verbatim JSON) plus load metadata. Rows are keyed by
the record id, so a re-delivered record replaces its earlier version: reruns, overlaps and
crashes mid-sync never leave duplicates once read with FINAL; one re-delivered as it is stored
is not written at all. This module holds the only DDL outside dbt.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.external import ExternalData

RAW_DATABASE = "raw"
CURSORS_TABLE = "_cursors"
CONFLICTS_TABLE = "_id_conflicts"

_RAW_COLUMNS = """(
    id String COMMENT 'record id as the source spells it',
    _cursor String COMMENT 'the record''s change cursor (updated_at, DataVersion, ...)',
    payload String COMMENT 'the record as the API returned it (JSON)',
    _source LowCardinality(String),
    _stream LowCardinality(String),
    _batch_id String COMMENT 'the sync that loaded this version',
    _loaded_at DateTime64(3, 'UTC'),
    _is_deleted UInt8 COMMENT '1 when the source reported the record deleted',
    _version UInt64 COMMENT 'load order; the highest version of an id wins'
)"""

_CONFLICT_COLUMNS = """(
    source LowCardinality(String),
    stream LowCardinality(String),
    batch_id String,
    id String,
    versions UInt32 COMMENT 'different records under this id in one page',
    sample String COMMENT 'the first two payloads, for the quality gate report',
    detected_at DateTime64(3, 'UTC')
)"""

_CURSOR_COLUMNS = """(
    source LowCardinality(String),
    stream LowCardinality(String),
    cursor String,
    batch_id String,
    rows UInt64,
    updated_at DateTime64(3, 'UTC')
)"""


@dataclass(frozen=True)
class RawRecord:
    id: str
    cursor: str
    payload: str
    is_deleted: bool = False

    @classmethod
    def from_json(
        cls, record: dict, id_value: object, cursor: object, is_deleted: bool = False
    ) -> RawRecord:
        return cls(
            # A missing id is kept as '' for the quality gate to name, never as "None".
            id="" if id_value is None else str(id_value),
            cursor="" if cursor is None else str(cursor),
            payload=json.dumps(record, ensure_ascii=False, separators=(",", ":")),
            is_deleted=is_deleted,
        )


def _engine(cluster: str | None, version_column: str) -> str:
    if cluster:
        return (
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', "
            f"'{{replica}}', {version_column})"
        )
    return f"ReplacingMergeTree({version_column})"


def _on_cluster(cluster: str | None) -> str:
    return f" ON CLUSTER '{cluster}'" if cluster else ""


def database_ddl(cluster: str | None, database: str = RAW_DATABASE) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {database}{_on_cluster(cluster)}"


def raw_table_ddl(table: str, cluster: str | None, database: str = RAW_DATABASE) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{table}{_on_cluster(cluster)} {_RAW_COLUMNS}\n"
        f"ENGINE = {_engine(cluster, '_version')}\nORDER BY id"
    )


def cursor_table_ddl(cluster: str | None, database: str = RAW_DATABASE) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{CURSORS_TABLE}{_on_cluster(cluster)} "
        f"{_CURSOR_COLUMNS}\nENGINE = {_engine(cluster, 'updated_at')}\nORDER BY (source, stream)"
    )


def conflicts_table_ddl(cluster: str | None, database: str = RAW_DATABASE) -> str:
    engine = (
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"
        if cluster
        else "MergeTree"
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{CONFLICTS_TABLE}{_on_cluster(cluster)} "
        f"{_CONFLICT_COLUMNS}\nENGINE = {engine}\nORDER BY (source, stream, batch_id, id)"
    )


# A stored version's content as the warehouse digests it; _content_md5 gives the same for a
# record about to be written.
CONTENT_MD5 = "lower(hex(MD5(concat(payload, char(0), _cursor, char(0), toString(_is_deleted)))))"


def _content_md5(record: RawRecord) -> str:
    flag = b"1" if record.is_deleted else b"0"
    data = record.payload.encode() + b"\0" + record.cursor.encode() + b"\0" + flag
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def new_batch_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


class RawStore:
    """Writes raw rows and reads/advances cursors in the warehouse."""

    def __init__(self, client: Client, cluster: str | None = None, database: str = RAW_DATABASE):
        self.client = client
        self.cluster = cluster
        self.database = database
        self._bootstrapped = False
        self._tables: set[str] = set()

    def bootstrap(self) -> None:
        """The raw database and the cursor table, once per store."""
        if not self._bootstrapped:
            self.client.command(database_ddl(self.cluster, self.database))
            self.client.command(cursor_table_ddl(self.cluster, self.database))
            self.client.command(conflicts_table_ddl(self.cluster, self.database))
            self._bootstrapped = True

    def ensure(self, table: str) -> None:
        if table not in self._tables:
            self.bootstrap()
            self.client.command(raw_table_ddl(table, self.cluster, self.database))
            self._tables.add(table)

    def write(
        self, source: str, stream: str, table: str, records: Sequence[RawRecord], batch_id: str
    ) -> int:
        """Insert one block; ClickHouse makes each insert atomic. A record stored already as
        its id's newest version (same payload, cursor and deletion flag) is not written again:
        every sync re-reads a lookback window, and a version that changes nothing would only
        make staging parse it and the next run rebuild marts that come out the same."""
        if not records:
            return 0
        self.ensure(table)
        stored = self._stored_as_is(table, records)
        # An id whose records all match the stored version is skipped; any other is written
        # whole, so the block's last record of an id stays its newest version as before.
        changed = {r.id for r in records if stored.get(r.id) != _content_md5(r)}
        records = [r for r in records if r.id in changed]
        if not records:
            return 0
        now = datetime.now(UTC)
        base = time.time_ns()
        rows = [
            [r.id, r.cursor, r.payload, source, stream, batch_id, now, int(r.is_deleted), base + i]
            for i, r in enumerate(records)
        ]
        self.client.insert(
            f"{self.database}.{table}",
            rows,
            column_names=["id", "_cursor", "payload", "_source", "_stream", "_batch_id",
                          "_loaded_at", "_is_deleted", "_version"],
        )  # fmt: skip
        return len(rows)

    def _stored_as_is(self, table: str, records: Sequence[RawRecord]) -> dict[str, str]:
        """id → content digest of its newest stored version, for the ids of `records` (sent
        as an external table: a block's ids may not fit in a query or a URL)."""
        ids = "".join(json.dumps({"id": r.id}) + "\n" for r in records).encode()
        result = self.client.query(
            f"SELECT id, argMax({CONTENT_MD5}, _version) FROM {self.database}.{table} "
            "WHERE id IN (SELECT id FROM block_ids) GROUP BY id",
            external_data=ExternalData(
                file_name="block_ids", data=ids, fmt="JSONEachRow", structure=["id String"]
            ),
        )
        return dict(result.result_rows)

    def write_conflicts(
        self, source: str, stream: str, batch_id: str, conflicts: dict[str, list[str]]
    ) -> None:
        """Ids that carried two different records in one page: kept for the gate to report."""
        if not conflicts:
            return
        self.bootstrap()
        now = datetime.now(UTC)
        self.client.insert(
            f"{self.database}.{CONFLICTS_TABLE}",
            [[source, stream, batch_id, i, len(p), "\n".join(p[:2])[:4000], now]
             for i, p in conflicts.items()],
            column_names=["source", "stream", "batch_id", "id", "versions", "sample",
                          "detected_at"],
        )  # fmt: skip

    def get_cursor(self, source: str, stream: str) -> str | None:
        self.bootstrap()
        rows = self.client.query(
            f"SELECT cursor FROM {self.database}.{CURSORS_TABLE} FINAL "
            "WHERE source = {s:String} AND stream = {t:String}",
            parameters={"s": source, "t": stream},
        ).result_rows
        return rows[0][0] if rows and rows[0][0] != "" else None

    def set_cursor(self, source: str, stream: str, cursor: str, batch_id: str, rows: int) -> None:
        """Called only after every row of the batch is inserted."""
        self.bootstrap()
        self.client.insert(
            f"{self.database}.{CURSORS_TABLE}",
            [[source, stream, cursor, batch_id, rows, datetime.now(UTC)]],
            column_names=["source", "stream", "cursor", "batch_id", "rows", "updated_at"],
        )

    def stored_versions(self, table: str) -> dict[str, str]:
        """id → cursor of the latest stored version (1C change tracking diffs against this)."""
        self.ensure(table)
        result = self.client.query(
            f"SELECT id, argMax(_cursor, _version) FROM {self.database}.{table} GROUP BY id"
        )
        return dict(result.result_rows)
