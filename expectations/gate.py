"""The quality gate around the suites: what the last good load looked like, and reports.

Two memories, both in raw: each raw table's id count at its last passed count check (raw
never loses an id, so a lower count blocks), and each staging table's watermark, the newest
`loaded_at` it held when a run published (the row-level dbt tests configured `where:
__new_batch__` read only the rows above it; dbt_project/macros/tests/new_batch.sql).
"""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from funnelhouse.expectations.runner import SuiteOutcome

COUNTS_TABLE = "raw._gate_counts"
# The dbt macro new_batch_condition reads it under the same name.
WATERMARKS_TABLE = "raw._gate_watermarks"
ID_COUNT = "expect_column_unique_value_count_to_be_between"


def previous_counts(client: Client) -> dict[str, int]:
    """Row counts of each relation at its last passed validation."""
    client.command(
        f"CREATE TABLE IF NOT EXISTS {COUNTS_TABLE} (relation String, row_count UInt64, "
        "validated_at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree(validated_at) "
        "ORDER BY relation"
    )
    rows = client.query(f"SELECT relation, row_count FROM {COUNTS_TABLE} FINAL").result_rows
    return {r: int(c) for r, c in rows}


def record_counts(client: Client, outcome: SuiteOutcome) -> None:
    """A passed suite's id counts become the floor of the next gate: the count it validated,
    not a recount (rows loaded meanwhile were not validated)."""
    counted = [o for o in outcome.outcomes if o.expectation == ID_COUNT]
    if not outcome.success or not counted:
        return
    client.insert(
        COUNTS_TABLE,
        [[outcome.suite.relation, int(o.observed_value), datetime.now(UTC)] for o in counted],
        column_names=["relation", "row_count", "validated_at"],
    )


def record_watermarks(client: Client, relations: list[str]) -> dict[str, datetime]:
    """After a publish: the newest `loaded_at` of each staging table in `relations` (those
    this run built and tested) is where the next batch validation starts."""
    client.command(
        f"CREATE TABLE IF NOT EXISTS {WATERMARKS_TABLE} (relation String, "
        "loaded_until DateTime64(3, 'UTC'), recorded_at DateTime64(3, 'UTC')) "
        "ENGINE = ReplacingMergeTree(recorded_at) ORDER BY relation"
    )
    now = datetime.now(UTC)
    marks = {
        relation: client.query(f"SELECT max(loaded_at) FROM {relation}").result_rows[0][0]
        for relation in relations
    }
    if marks:
        client.insert(
            WATERMARKS_TABLE,
            [[relation, until, now] for relation, until in marks.items()],
            column_names=["relation", "loaded_until", "recorded_at"],
        )
    return marks


def summary(outcome: SuiteOutcome) -> str:
    if outcome.success:
        return f"{outcome.suite.relation}: {len(outcome.outcomes)} expectations passed"
    lines = [f"{outcome.suite.relation}: {len(outcome.failures)} of {len(outcome.outcomes)} failed"]
    lines += [f"  - {f.describe()}" for f in outcome.failures]
    return "\n".join(lines)
