"""The quality gate around the suites: what the last good load looked like, and reports."""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from funnelhouse.expectations.runner import SuiteOutcome

COUNTS_TABLE = "raw._gate_counts"


def previous_counts(client: Client) -> dict[str, int]:
    """Row counts of each relation at its last passed validation."""
    client.command(
        f"CREATE TABLE IF NOT EXISTS {COUNTS_TABLE} (relation String, row_count UInt64, "
        "validated_at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree(validated_at) "
        "ORDER BY relation"
    )
    rows = client.query(f"SELECT relation, row_count FROM {COUNTS_TABLE} FINAL").result_rows
    return {r: int(c) for r, c in rows}


def record_count(client: Client, relation: str) -> int:
    count = int(client.command(f"SELECT count() FROM {relation}"))
    client.insert(
        COUNTS_TABLE,
        [[relation, count, datetime.now(UTC)]],
        column_names=["relation", "row_count", "validated_at"],
    )
    return count


def summary(outcome: SuiteOutcome) -> str:
    if outcome.success:
        return f"{outcome.suite.relation}: {len(outcome.outcomes)} expectations passed"
    lines = [f"{outcome.suite.relation}: {len(outcome.failures)} of {len(outcome.outcomes)} failed"]
    lines += [f"  - {f.describe()}" for f in outcome.failures]
    return "\n".join(lines)
