"""Jobs and their schedules: hourly incremental, nightly full refresh (both gated).

The mode is the run tag `funnelhouse/mode`, which every ingest and dbt step reads; schedules
run in the business time zone, the dbt var `business_timezone` the marts cut periods in.

Both jobs carry their executor, so a run launched from the UI, by a schedule, by `dagster job
execute` or by `funnelhouse run` executes alike: steps in their own processes, the sources side
by side (one step each, its streams in turn under one rate limiter; the op tag `source` is a
guard should a job ever hold two steps of one source). The forkserver imports the
code location and GX once; each step forks from it instead of importing dbt, GX and Dagster
again (seconds of CPU per step). The code location itself does not import GX
(expectations/runner.py), so the run's own process and the UI's code server skip it.
"""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
    multiprocess_executor,
)

from funnelhouse.dbt import business_timezone
from funnelhouse.ingest.sources import SOURCES
from funnelhouse.orchestration.assets.ingest import SOURCE_OP_TAG
from funnelhouse.orchestration.modes import FULL_REFRESH, INCREMENTAL, MODE_TAG

PIPELINE_EXECUTOR_CONFIG = {
    "max_concurrent": len(SOURCES),
    "tag_concurrency_limits": [
        {"key": SOURCE_OP_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ],
    "start_method": {
        "forkserver": {
            "preload_modules": ["funnelhouse.orchestration.definitions", "great_expectations"]
        }
    },
}
pipeline_executor = multiprocess_executor.configured(
    PIPELINE_EXECUTOR_CONFIG, name="pipeline_executor"
)

incremental = define_asset_job(
    "incremental",
    selection=AssetSelection.all(),
    description="Sync every stream from its cursor, rebuild dbt incrementally, gate, publish.",
    tags={MODE_TAG: INCREMENTAL},
    executor_def=pipeline_executor,
)

full_refresh = define_asset_job(
    "full_refresh",
    selection=AssetSelection.all(),
    description="Re-read every source from the beginning and rebuild dbt from scratch, gated.",
    tags={MODE_TAG: FULL_REFRESH},
    executor_def=pipeline_executor,
)

hourly = ScheduleDefinition(
    job=incremental,
    cron_schedule="5 * * * *",
    execution_timezone=business_timezone(),
    default_status=DefaultScheduleStatus.RUNNING,
)
nightly = ScheduleDefinition(
    job=full_refresh,
    cron_schedule="30 3 * * *",
    execution_timezone=business_timezone(),
    default_status=DefaultScheduleStatus.STOPPED,
    description="Off by default: turn on where a nightly re-read is affordable.",
)
