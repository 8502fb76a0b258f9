"""SQL text of the versioned publish, kept apart from its execution so the cluster variant
(ON CLUSTER, ReplicatedMergeTree, SYNC REPLICA) can be checked where no cluster runs.

Layout, all in the published database (so `GRANT SELECT ON marts.*` reads everything a mart
view reads): `<mart>__versions` holds every staged version of a mart, partitioned by
`_publish_id`; `publish_log` has one row per publish, the highest `seq` being the live one;
`<mart>` is a view of the live version. See docs/ARCHITECTURE.md, "Publishing".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PUBLISH_ID = "_publish_id"
PUBLISH_LOG = "publish_log"
VERSIONS_SUFFIX = "__versions"
# Replica path by table UUID: stable under RENAME, unique per CREATE (ON CLUSTER gives every
# replica the initiator's UUID), so a dropped and re-created table never meets its old path.
REPLICATED_ENGINE = "ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""

    def ddl(self) -> str:
        comment = f" COMMENT {literal(self.comment)}" if self.comment else ""
        return f"{ident(self.name)} {self.type}{comment}"


# publish_log: what BI reads to learn which run the marts come from (comments are the docs).
PUBLISH_LOG_COLUMNS = (
    Column("seq", "UInt64", "Order of publishes: the row with the highest seq is live"),
    Column("publish_id", "String", "The version of the marts this publish made live"),
    Column("run_id", "String", "Dagster run that published it (`manual` outside Dagster)"),
    Column(
        "as_of",
        "Nullable(DateTime64(3, 'UTC'))",
        "The instant the marts describe (intermediate.int_as_of); NULL if unknown",
    ),
    Column("published_at", "DateTime64(3, 'UTC')", "When the publish committed"),
    Column("row_counts", "Map(String, UInt64)", "Rows of each published mart, by mart name"),
)


def ident(name: str) -> str:
    """A plain identifier, backquoted; anything else is refused rather than escaped."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return f"`{name}`"


def literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def on_cluster(cluster: str | None) -> str:
    return f" ON CLUSTER {ident(cluster)}" if cluster else ""


def engine(cluster: str | None) -> str:
    return REPLICATED_ENGINE if cluster else "MergeTree"


def create_database(database: str, cluster: str | None) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {ident(database)}{on_cluster(cluster)}"


def create_publish_log(target: str, cluster: str | None) -> str:
    cols = ", ".join(c.ddl() for c in PUBLISH_LOG_COLUMNS)
    return (
        f"CREATE TABLE IF NOT EXISTS {ident(target)}.{PUBLISH_LOG}{on_cluster(cluster)} ({cols}) "
        f"ENGINE = {engine(cluster)} ORDER BY seq COMMENT "
        + literal("One row per publish of the marts; the highest seq is the version marts.* show")
    )


def versions_table(mart: str) -> str:
    return mart + VERSIONS_SUFFIX


def pointer(target: str) -> str:
    """The live publish id: the scalar every mart view filters on (one per query)."""
    return f"(SELECT argMax(publish_id, seq) FROM {ident(target)}.{PUBLISH_LOG})"


def _versions(database: str, mart: str) -> str:
    return f"{ident(database)}.{ident(versions_table(mart))}"


def create_versions_table(
    database: str, mart: str, columns: list[Column], cluster: str | None
) -> str:
    publish_id = Column(PUBLISH_ID, "String", "The publish this row belongs to")
    cols = ", ".join(c.ddl() for c in [publish_id, *columns])
    comment = f"Every staged version of {database}.{mart}; read {mart}, which shows the live one"
    return (
        f"CREATE TABLE IF NOT EXISTS {_versions(database, mart)}{on_cluster(cluster)} "
        f"({cols}) ENGINE = {engine(cluster)} PARTITION BY {PUBLISH_ID} ORDER BY {PUBLISH_ID} "
        f"COMMENT {literal(comment)}"
    )


def alter_columns(
    database: str,
    mart: str,
    cluster: str | None,
    add: Sequence[Column] = (),
    modify: Sequence[Column] = (),
    drop: Sequence[str] = (),
) -> str:
    actions = [f"ADD COLUMN IF NOT EXISTS {c.ddl()}" for c in add]
    actions += [f"MODIFY COLUMN {c.ddl()}" for c in modify]
    actions += [f"DROP COLUMN IF EXISTS {ident(n)}" for n in drop]
    return f"ALTER TABLE {_versions(database, mart)}{on_cluster(cluster)} " + ", ".join(actions)


def drop_partition(database: str, mart: str, publish_id: str, cluster: str | None) -> str:
    return (
        f"ALTER TABLE {_versions(database, mart)}{on_cluster(cluster)} "
        f"DROP PARTITION {literal(publish_id)}"
    )


def stage(database: str, mart: str, columns: list[Column], source: str, publish_id: str) -> str:
    """Copy one mart's rows into the version `publish_id` (run once per attempt; not idempotent
    alone: the partition is dropped first)."""
    names = ", ".join(ident(c.name) for c in columns)
    return (
        f"INSERT INTO {_versions(database, mart)} ({PUBLISH_ID}, {names}) "
        f"SELECT {literal(publish_id)}, {names} FROM {source}"
    )


def sync_replica(database: str, mart: str, cluster: str) -> str:
    """Every replica has fetched the staged parts before the pointer moves."""
    return f"SYSTEM SYNC REPLICA{on_cluster(cluster)} {_versions(database, mart)}"


def create_view(
    target: str, mart: str, columns: list[Column], comment: str, cluster: str | None
) -> str:
    """The mart as BI sees it: the live version's rows, dbt's columns and comments.

    SQL SECURITY INVOKER, not DEFINER: a DEFINER view evaluates its subqueries in a context of
    its own, so two marts in one query could read the pointer before and after a commit; an
    INVOKER view shares the query's scalar cache, so one query reads the pointer once."""
    cols = ", ".join(c.ddl() for c in columns)
    names = ", ".join(ident(c.name) for c in columns)
    return (
        f"CREATE OR REPLACE VIEW {ident(target)}.{ident(mart)}{on_cluster(cluster)} ({cols}) "
        f"SQL SECURITY INVOKER AS SELECT {names} FROM {_versions(target, mart)} "
        f"WHERE {PUBLISH_ID} = {pointer(target)} COMMENT {literal(comment)}"
    )


def commit(
    target: str, publish_id: str, run_id: str, as_of: str | None, rows: dict[str, int]
) -> str:
    """The atomic step: one row, one part; from here every view shows `publish_id`."""
    counts = ", ".join(f"{literal(m)}, {int(n)}" for m, n in rows.items())
    as_of_sql = f"toDateTime64({literal(as_of)}, 3, 'UTC')" if as_of else "NULL"
    return (
        f"INSERT INTO {ident(target)}.{PUBLISH_LOG} "
        f"SELECT (SELECT max(seq) FROM {ident(target)}.{PUBLISH_LOG}) + 1, {literal(publish_id)}, "
        f"{literal(run_id)}, {as_of_sql}, now64(3, 'UTC'), "
        f"CAST(map({counts}), 'Map(String, UInt64)')"
    )
