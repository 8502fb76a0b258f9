"""With CLICKHOUSE_CLUSTER set, every statement publish issues that changes the schema runs
ON CLUSTER, tables are Replicated, and replicas are synced before the commit.

No cluster runs here, so a whole publish runs through a shim that records each statement,
has the engine parse it as written (`formatQuery`), and executes it with the cluster parts
removed on the one local node.
"""

from __future__ import annotations

import re

import pytest

from funnelhouse.warehouse import publish_sql as sql
from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.publish import publish
from tests.warehouse.test_publish_atomic import AS_OF, CANDIDATE, MARTS, TARGET, build, reset

CLUSTER = "prod"
ON_CLUSTER = f" ON CLUSTER `{CLUSTER}`"
DDL = re.compile(r"^(CREATE|ALTER|DROP|RENAME|EXCHANGE|SYSTEM)\b")


class ClusterShim:
    """Records statements; runs them on one node as the cluster would on each replica."""

    def __init__(self, client):
        self.client = client
        self.statements: list[str] = []

    def command(self, cmd: str, *args, **kwargs):
        self.statements.append(cmd)
        formatted = self.client.command("SELECT formatQuery({q:String})", parameters={"q": cmd})
        assert formatted, cmd  # parses as written
        if cmd.startswith("SYSTEM SYNC REPLICA"):
            return None  # no replicas here
        local = cmd.replace(ON_CLUSTER, "").replace(sql.REPLICATED_ENGINE, "MergeTree")
        return self.client.command(local, *args, **kwargs)

    def query(self, *args, **kwargs):
        return self.client.query(*args, **kwargs)


@pytest.fixture
def client(warehouse):
    client = get_client(warehouse)
    reset(client)
    yield client
    reset(client)
    client.close()


def test_cluster_publish_runs_every_ddl_on_cluster(client):
    shim = ClusterShim(client)
    build(client, CANDIDATE, 1)
    publish(shim, MARTS, CANDIDATE, TARGET, cluster=CLUSTER, as_of=AS_OF[1])  # type: ignore[arg-type]
    build(client, CANDIDATE, 2)  # adds, widens and drops columns: ALTERs too
    done = publish(shim, MARTS, CANDIDATE, TARGET, cluster=CLUSTER, as_of=AS_OF[2])  # type: ignore[arg-type]

    ddl = [s for s in shim.statements if DDL.match(s)]
    assert ddl and all(ON_CLUSTER in s for s in ddl), [s for s in ddl if ON_CLUSTER not in s]
    tables = [s for s in ddl if s.startswith("CREATE TABLE")]
    assert len(tables) == len(MARTS) + 2  # versions tables; publish_log once per publish
    assert all(f"ENGINE = {sql.REPLICATED_ENGINE}" in s for s in tables)
    for kind in ("CREATE DATABASE", "CREATE TABLE", "CREATE OR REPLACE VIEW", "SYSTEM SYNC",
                 "ALTER TABLE"):  # fmt: skip
        assert any(s.startswith(kind) for s in ddl), kind
    alters = " ".join(s for s in ddl if s.startswith("ALTER TABLE"))
    assert all(
        a in alters for a in ("ADD COLUMN", "MODIFY COLUMN", "DROP COLUMN", "DROP PARTITION")
    )
    # Replicas catch up on every mart's staged version before the commit of each publish.
    commits = [i for i, s in enumerate(shim.statements) if s.startswith("INSERT INTO `pk_marts`.")
               and "publish_log" in s]  # fmt: skip
    syncs = [i for i, s in enumerate(shim.statements) if s.startswith("SYSTEM SYNC REPLICA")]
    assert len(commits) == 2 and len(syncs) == 2 * len(MARTS)
    assert sum(i < commits[1] for i in syncs) == 2 * len(MARTS)
    assert sum(commits[0] < i < commits[1] for i in syncs) == len(MARTS)
    # And the result on the node is the published run 2.
    assert client.command(f"SELECT {sql.pointer(TARGET)}") == done.publish_id
    assert client.command(f"SELECT max(run) FROM {TARGET}.m02") == 2


def test_local_publish_ddl_has_no_cluster_parts():
    cols = [sql.Column("k", "UInt32", "Row key")]
    for text in (
        sql.create_database("marts", None),
        sql.create_publish_log("marts", None),
        sql.create_versions_table("marts", "m", cols, None),
        sql.alter_columns("marts", "m", None, add=cols),
        sql.drop_partition("marts", "m", "p", None),
        sql.create_view("marts", "m", cols, "a mart", None),
    ):
        assert "ON CLUSTER" not in text and "Replicated" not in text, text
    with pytest.raises(ValueError, match="identifier"):
        sql.ident("marts; DROP TABLE x")
