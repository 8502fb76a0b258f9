"""Run modes travel as run tags, set by the job (or at launch), not as per-op config.

A tag reaches every step of a run, ingest and dbt alike, whatever the ops are called, and
shows on the run in the UI: the `full_refresh` job sets the mode, `funnelhouse run --since`
the backfill date, and either can be set by hand at launch.
"""

from dagster import AssetExecutionContext

MODE_TAG = "funnelhouse/mode"
INCREMENTAL = "incremental"
FULL_REFRESH = "full_refresh"
SINCE_TAG = "funnelhouse/since"  # YYYY-MM-DD: a backfill, ingest re-reads what changed since


def is_full_refresh(context: AssetExecutionContext) -> bool:
    """True when the run re-reads every source and rebuilds dbt from scratch."""
    return context.run.tags.get(MODE_TAG) == FULL_REFRESH


def backfill_since(context: AssetExecutionContext) -> str | None:
    """The day a backfill run re-reads from, if it is one."""
    return context.run.tags.get(SINCE_TAG)
