"""A run whose transform inputs equal those of the live publish rebuilds nothing.

The marts are a function of the records in raw, the dbt project and the settings dbt reads
from the environment: `as_of` is the latest event in the data, not the clock, so a rebuild of
unchanged data gives identical marts (tests/dbt/test_golden_marts.py). A quiet hour's run
would spend its dbt steps, mart suites and publish on rebuilding what BI already sees. When
the inputs equal those the live publish was built from, the dbt steps end without running dbt
and Dagster skips everything after them.

The inputs: each raw table's newest `_version` (every write raises it, and a sync writes a
record only when it differs from the stored one, so re-read lookback windows leave it as it
was), the content of the dbt project's files, the values of the environment variables its
`env_var()` calls read (the connection's excepted), the mart suites that gate the publish (a
tightened suite checks the marts at the next run, not only once the data changes), and the
versions of dbt-core, the ClickHouse adapter, GX and the server.

The dbt step takes the raw versions before dbt reads raw, so a load landing while dbt runs
makes the next run build; a publish vouches for them only when the same run built every dbt
model, so a partial run never vouches for marts it did not build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from clickhouse_connect.driver.client import Client

from funnelhouse.dbt import DBT_PROJECT_DIR
from funnelhouse.expectations.suites import mart_suites
from funnelhouse.ingest.raw import RAW_DATABASE, database_ddl
from funnelhouse.ingest.sources import SOURCES
from funnelhouse.warehouse.publish import CANDIDATE_DATABASE, live_publish
from funnelhouse.warehouse.publish_sql import ident, literal

INPUTS_TABLE = f"{RAW_DATABASE}._transform_inputs"
# What dbt writes into its project folder (target/, logs/) or installs there: not its input.
_NOT_PROJECT = re.compile(r"^(target.*|logs|dbt_packages)$|^\.")
_ENV_VAR = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


@dataclass(frozen=True)
class Inputs:
    project: str  # the project's files, the environment they read, dbt's and the server's versions
    versions: dict[str, int]  # raw table → its newest `_version`


def _project_files(project_dir: Path) -> list[Path]:
    target = (project_dir / os.environ.get("DBT_TARGET_PATH", "target")).resolve()
    return sorted(
        path
        for top in project_dir.iterdir()
        if not _NOT_PROJECT.match(top.name)
        for path in ([top] if top.is_file() else top.rglob("*"))
        if path.is_file()
        and not path.name.startswith(".")
        and not path.resolve().is_relative_to(target)
    )


def project_digest(connection_vars: set[str], project_dir: Path = DBT_PROJECT_DIR) -> str:
    digest = hashlib.sha256()
    read: set[str] = set()
    for path in _project_files(project_dir):
        data = path.read_bytes()
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
        if path.suffix in (".sql", ".yml", ".yaml"):
            read.update(_ENV_VAR.findall(data.decode("utf-8", "replace")))
    env = {name: os.environ.get(name, "") for name in sorted(read - connection_vars)}
    digest.update(json.dumps(env, sort_keys=True).encode())
    return digest.hexdigest()


def raw_versions(client: Client) -> dict[str, int]:
    """The newest `_version` of each declared stream's raw table that exists (other tables an
    administrator keeps in raw are no input of the marts)."""
    declared = sorted({s.table for source in SOURCES.values() for s in source.streams.values()})
    present = {
        t
        for (t,) in client.query(
            "SELECT table FROM system.columns WHERE database = {db:String} "
            "AND name = '_version' AND has({tables:Array(String)}, table)",
            parameters={"db": RAW_DATABASE, "tables": declared},
        ).result_rows
    }
    tables = [t for t in declared if t in present]
    if not tables:
        return {}
    union = " UNION ALL ".join(
        f"SELECT {literal(t)}, max(_version) FROM {ident(RAW_DATABASE)}.{ident(t)}" for t in tables
    )
    return {t: int(v) for t, v in client.query(union).result_rows}


def gate_digest() -> str:
    """The mart suites as plain data (canonical JSON: equal in every process)."""
    suites = [asdict(suite) for suite in mart_suites(CANDIDATE_DATABASE)]
    return hashlib.sha256(json.dumps(suites, sort_keys=True).encode()).hexdigest()


def _tools(client: Client) -> str:
    """What builds and checks the marts besides the project: an upgrade of dbt, its adapter,
    GX or the server may change what the same SQL gives or what a suite lets through."""
    packages = ("dbt-core", "dbt-clickhouse", "great-expectations")
    return " ".join([*(version(p) for p in packages), str(client.server_version)])


def current_inputs(client: Client, connection_vars: set[str]) -> Inputs:
    parts = (project_digest(connection_vars), gate_digest(), _tools(client))
    return Inputs(hashlib.sha256(" ".join(parts).encode()).hexdigest(), raw_versions(client))


def _ensure(client: Client) -> None:
    client.command(database_ddl(None))
    client.command(
        f"CREATE TABLE IF NOT EXISTS {INPUTS_TABLE} (run_id String, publish_id String, "
        "project String, versions Map(String, UInt64), "
        "recorded_at DateTime64(6, 'UTC') DEFAULT now64(6)) ENGINE = MergeTree ORDER BY recorded_at"
    )


def _unchanged_since_publish(client: Client, inputs: Inputs) -> str | None:
    """The live publish id when it was built from inputs equal to these, else None."""
    live = live_publish(client)
    if not live:
        return None
    rows = client.query(
        f"SELECT publish_id, project, versions FROM {INPUTS_TABLE} WHERE publish_id != '' "
        "ORDER BY recorded_at DESC LIMIT 1"
    ).result_rows
    if rows and tuple(rows[0]) == (live, inputs.project, inputs.versions):
        return live
    return None


def record_published(client: Client, run_id: str, publish_id: str) -> None:
    """After a publish of a run that built every dbt model: its inputs are the live marts'."""
    _ensure(client)
    client.command(
        f"INSERT INTO {INPUTS_TABLE} (run_id, publish_id, project, versions) "
        "SELECT run_id, {p:String}, project, versions FROM "
        f"{INPUTS_TABLE} WHERE run_id = {{r:String}} AND publish_id = '' "
        "ORDER BY recorded_at LIMIT 1",
        parameters={"p": publish_id, "r": run_id},
    )


def unchanged_build(
    client: Client, run_id: str, connection_vars: set[str], *, full_refresh: bool
) -> str | None:
    """For the dbt step about to build: the live publish id when its inputs are those the live
    marts were built from (so it need not), else None, after recording the inputs this build
    starts from (a publish of this run vouches for them). A full refresh always builds."""
    _ensure(client)
    inputs = current_inputs(client, connection_vars)
    live = None if full_refresh else _unchanged_since_publish(client, inputs)
    if live is None:
        client.insert(
            INPUTS_TABLE,
            [[run_id, "", inputs.project, inputs.versions]],
            column_names=["run_id", "publish_id", "project", "versions"],
        )
    return live
