"""Write-audit-publish, atomic across all marts: BI sees every mart of one publish, or of the one
before, at every instant, and a publish killed at any step completes forward when rerun.

ClickHouse swaps one table atomically, never twelve. So each mart is stored in versions
(`marts.<mart>__versions`, one partition per publish id), `marts.<mart>` is a view of the
version that the last row of `marts.publish_log` names, and one INSERT of that row is the
commit; one query reads that row once, for every view in it. The
publish id is a hash of the candidate (its as_of, columns and rows): a rerun over the same
candidate restages the same id and commits it, or finds it live already and only cleans up.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client

from funnelhouse.warehouse import publish_sql as sql
from funnelhouse.warehouse.publish_sql import PUBLISH_ID, PUBLISH_LOG, Column, ident, versions_table

log = logging.getLogger(__name__)

CANDIDATE_DATABASE = "marts_candidate"
PUBLISHED_DATABASE = "marts"
AS_OF_RELATION = "intermediate.int_as_of"
LEGACY_ID = "legacy"  # the marts as the pre-versioned publish (EXCHANGE TABLES) left them

# Waits for ALTERs (type changes, dropped partitions) on every replica; staged copies are never
# deduplicated, or a restaged block identical to a crashed attempt's would be silently skipped.
ALTER_SETTINGS = {"alter_sync": 2, "mutations_sync": 2}
INSERT_SETTINGS = {"insert_deduplicate": 0}


@dataclass(frozen=True)
class Published:
    publish_id: str
    run_id: str
    as_of: str | None
    rows: dict[str, int]
    committed: bool  # False: this candidate was live already; only views and cleanup ran


@dataclass(frozen=True)
class _Place:
    """Where a publish reads and writes, and how to run DDL there."""

    target: str
    cluster: str | None
    on_step: Callable[[str], None]


def columns(client: Client, database: str, table: str) -> list[Column]:
    rows = client.query(
        "SELECT name, type, comment FROM system.columns WHERE database = {db:String} "
        "AND table = {t:String} ORDER BY position",
        parameters={"db": database, "t": table},
    ).result_rows
    return [Column(*r) for r in rows]


def _table(client: Client, database: str, table: str) -> tuple[str, str] | None:
    """(engine, comment) of a table or view, None if absent."""
    rows = client.query(
        "SELECT engine, comment FROM system.tables WHERE database = {db:String} "
        "AND name = {t:String}",
        parameters={"db": database, "t": table},
    ).result_rows
    return (rows[0][0], rows[0][1]) if rows else None


def live_publish(client: Client, target: str = PUBLISHED_DATABASE) -> str:
    """The publish id the views show ('' before the first publish)."""
    if _table(client, target, PUBLISH_LOG) is None:
        return ""
    return str(client.command(f"SELECT {sql.pointer(target)}"))


def read_as_of(client: Client, relation: str = AS_OF_RELATION) -> str:
    """The instant the candidate marts describe, as dbt built it (UTC, milliseconds)."""
    return str(client.command(f"SELECT toString(as_of) FROM {relation}"))


def _candidate_state(
    client: Client, candidate: str, marts: list[str], as_of: str | None
) -> tuple[str, dict[str, int]]:
    """(publish id, rows per mart): equal candidates, equal ids; any change, a new id."""
    digest = hashlib.sha256(f"{as_of}".encode())
    rows: dict[str, int] = {}
    for mart in marts:
        count, content = client.query(
            f"SELECT count(), sum(cityHash64(tuple(*))) FROM {ident(candidate)}.{ident(mart)}"
        ).result_rows[0]
        rows[mart] = int(count)
        schema = [(c.name, c.type) for c in columns(client, candidate, mart)]
        digest.update(repr((mart, schema, int(count), int(content))).encode())
    stamp = datetime.fromisoformat(as_of).strftime("%Y%m%dT%H%M%S") if as_of else "unknown"
    return f"{stamp}_{digest.hexdigest()[:16]}", rows


def _stage(client: Client, at: _Place, mart: str, source: str, publish_id: str) -> None:
    """Version `publish_id` of `mart` becomes a copy of `source` (database, table); the
    versions table first gains the source's new columns and types."""
    cols = columns(client, *source.split("."))
    existing = {c.name: c for c in columns(client, at.target, versions_table(mart))}
    if not existing:
        client.command(sql.create_versions_table(at.target, mart, cols, at.cluster))
    else:
        add = [c for c in cols if c.name not in existing]
        modify = [c for c in cols if c.name in existing and existing[c.name] != c]
        if add or modify:
            client.command(
                sql.alter_columns(at.target, mart, at.cluster, add=add, modify=modify),
                settings=ALTER_SETTINGS,
            )
    client.command(
        sql.drop_partition(at.target, mart, publish_id, at.cluster), settings=ALTER_SETTINGS
    )
    source_sql = ".".join(ident(p) for p in source.split("."))
    client.command(
        sql.stage(at.target, mart, cols, source_sql, publish_id), settings=INSERT_SETTINGS
    )


def _verify(client: Client, at: _Place, publish_id: str, expected: dict[str, int]) -> None:
    """Every staged version is complete (and, on a cluster, on every replica)."""
    for mart, rows in expected.items():
        if at.cluster:
            client.command(sql.sync_replica(at.target, mart, at.cluster))
        staged = int(
            client.command(
                f"SELECT count() FROM {ident(at.target)}.{ident(versions_table(mart))} "
                f"WHERE {PUBLISH_ID} = {sql.literal(publish_id)}"
            )
        )
        if staged != rows:
            raise RuntimeError(
                f"publish {publish_id}: {at.target}.{versions_table(mart)} staged {staged} rows, "
                f"the source has {rows}; nothing was published"
            )


def _view(client: Client, at: _Place, mart: str, source: tuple[str, str]) -> None:
    comment = (_table(client, *source) or ("", ""))[1]
    cols = columns(client, *source)
    client.command(sql.create_view(at.target, mart, cols, comment, at.cluster))


def _commit(
    client: Client, at: _Place, publish_id: str, run_id: str, as_of: str | None, rows: dict
) -> None:
    client.command(sql.commit(at.target, publish_id, run_id, as_of, rows), settings=INSERT_SETTINGS)
    log.info("published %s (run %s) into %s", publish_id, run_id, at.target)


def _cleanup(client: Client, at: _Place, mart: str, live: str, keep: list[Column]) -> None:
    """Drop every version but the live one, then columns that only dropped versions used."""
    stale = client.query(
        f"SELECT DISTINCT {PUBLISH_ID} FROM {ident(at.target)}.{ident(versions_table(mart))} "
        f"WHERE {PUBLISH_ID} != {sql.literal(live)}"
    ).result_rows
    for (publish_id,) in stale:
        client.command(
            sql.drop_partition(at.target, mart, publish_id, at.cluster), settings=ALTER_SETTINGS
        )
    names = {c.name for c in keep} | {PUBLISH_ID}
    gone = [c.name for c in columns(client, at.target, versions_table(mart)) if c.name not in names]
    if gone:
        client.command(
            sql.alter_columns(at.target, mart, at.cluster, drop=gone), settings=ALTER_SETTINGS
        )


def _adopt_legacy(client: Client, at: _Place, marts: list[str]) -> None:
    """Marts still published as tables (before versioning) become the first version, committed
    before any table turns into a view, so the upgrade is as consistent as a publish."""
    legacy = [m for m in marts if (_table(client, at.target, m) or ("View",))[0] != "View"]
    if not legacy or live_publish(client, at.target):
        return
    rows = {
        m: int(client.command(f"SELECT count() FROM {ident(at.target)}.{ident(m)}")) for m in legacy
    }
    for mart in legacy:
        _stage(client, at, mart, f"{at.target}.{mart}", LEGACY_ID)
        at.on_step(f"adopt:stage:{mart}")
    _verify(client, at, LEGACY_ID, rows)
    _commit(client, at, LEGACY_ID, LEGACY_ID, None, rows)
    at.on_step("adopt:commit")
    for mart in legacy:
        _view(client, at, mart, (at.target, mart))
        at.on_step(f"adopt:view:{mart}")


def publish(
    client: Client,
    marts: list[str],
    candidate: str = CANDIDATE_DATABASE,
    target: str = PUBLISHED_DATABASE,
    cluster: str | None = None,
    run_id: str = "manual",
    as_of: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Published:
    """Make the candidate marts live in `target`, all at once; safe to rerun after any crash.

    `as_of` defaults to dbt's `intermediate.int_as_of`. `on_step` is called after each step
    with its name (tests stop the process there)."""
    if PUBLISH_LOG in marts or any(m.endswith(sql.VERSIONS_SUFFIX) for m in marts):
        raise ValueError(f"mart names must not be {PUBLISH_LOG} nor end in {sql.VERSIONS_SUFFIX}")
    missing = [m for m in marts if _table(client, candidate, m) is None]
    if missing:
        raise RuntimeError(
            f"cannot publish: {candidate} lacks {', '.join(missing)}; run dbt for the marts first"
        )
    client.command(sql.create_database(target, cluster))
    client.command(sql.create_publish_log(target, cluster))
    at = _Place(target, cluster, on_step or (lambda _: None))
    at.on_step("prepare")
    _adopt_legacy(client, at, marts)

    as_of = as_of if as_of is not None else read_as_of(client)
    publish_id, rows = _candidate_state(client, candidate, marts, as_of)
    fresh = live_publish(client, target) != publish_id
    if fresh:
        for mart in marts:
            _stage(client, at, mart, f"{candidate}.{mart}", publish_id)
            at.on_step(f"stage:{mart}")
        _verify(client, at, publish_id, rows)
        at.on_step("verify")
    # Views before the commit: they still show the live version, in the candidate's columns
    # (a new column reads as its default there until the commit).
    for mart in marts:
        _view(client, at, mart, (candidate, mart))
        at.on_step(f"view:{mart}")
    if fresh:
        _commit(client, at, publish_id, run_id, as_of, rows)
        at.on_step("commit")
    for mart in marts:
        _cleanup(client, at, mart, publish_id, columns(client, candidate, mart))
        at.on_step(f"cleanup:{mart}")
    if not fresh:
        run_id = str(
            client.command(f"SELECT argMax(run_id, seq) FROM {ident(target)}.{PUBLISH_LOG}")
        )
    return Published(publish_id, run_id, as_of, rows, fresh)
