"""Write-audit-publish: swap validated candidate marts into `marts`, one atomic EXCHANGE each.

Only called after every blocking mart check passed. The candidate database then holds the
previous version of each mart, which is also the rollback: publish again to swap back.
"""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)

CANDIDATE_DATABASE = "marts_candidate"
PUBLISHED_DATABASE = "marts"


def _tables(client: Client, database: str) -> set[str]:
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND NOT is_temporary "
        "AND engine NOT IN ('View', 'MaterializedView')",
        parameters={"db": database},
    ).result_rows
    return {r[0] for r in rows}


def publish(
    client: Client,
    marts: list[str],
    candidate: str = CANDIDATE_DATABASE,
    target: str = PUBLISHED_DATABASE,
    cluster: str | None = None,
) -> dict[str, str]:
    """Swap each candidate mart into `target`; returns {mart: 'exchanged' | 'created'}."""
    on_cluster = f" ON CLUSTER '{cluster}'" if cluster else ""
    missing = sorted(set(marts) - _tables(client, candidate))
    if missing:
        raise RuntimeError(
            f"cannot publish: {candidate} lacks {', '.join(missing)}; run dbt for the marts first"
        )
    client.command(f"CREATE DATABASE IF NOT EXISTS {target}{on_cluster}")
    existing = _tables(client, target)
    done: dict[str, str] = {}
    for mart in marts:
        if mart in existing:
            client.command(f"EXCHANGE TABLES {candidate}.{mart} AND {target}.{mart}{on_cluster}")
            done[mart] = "exchanged"
        else:
            client.command(f"RENAME TABLE {candidate}.{mart} TO {target}.{mart}{on_cluster}")
            done[mart] = "created"
        log.info("published %s.%s (%s)", target, mart, done[mart])
    return done
