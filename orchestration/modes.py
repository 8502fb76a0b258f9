"""Run modes travel as a run tag, set by the job (or at launch), not as per-op config.

One tag reaches every step of a run, ingest and dbt alike, whatever the ops are called, and
shows on the run in the UI; `full_refresh` sets it, a backfill launched by hand can too.
"""

from dagster import AssetExecutionContext

MODE_TAG = "funnelhouse/mode"
INCREMENTAL = "incremental"
FULL_REFRESH = "full_refresh"


def is_full_refresh(context: AssetExecutionContext) -> bool:
    """True when the run re-reads every source and rebuilds dbt from scratch."""
    return context.run.tags.get(MODE_TAG) == FULL_REFRESH
