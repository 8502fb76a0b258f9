"""Jobs and their schedules: hourly incremental, nightly full refresh (both gated).

The mode is the run tag `funnelhouse/mode`, which every ingest and dbt step reads; schedules
run in the business time zone, the dbt var `business_timezone` the marts cut periods in.
"""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from funnelhouse.dbt import business_timezone
from funnelhouse.orchestration.modes import FULL_REFRESH, INCREMENTAL, MODE_TAG

incremental = define_asset_job(
    "incremental",
    selection=AssetSelection.all(),
    description="Sync every stream from its cursor, rebuild dbt incrementally, gate, publish.",
    tags={MODE_TAG: INCREMENTAL},
)

full_refresh = define_asset_job(
    "full_refresh",
    selection=AssetSelection.all(),
    description="Re-read every source from the beginning and rebuild dbt from scratch, gated.",
    tags={MODE_TAG: FULL_REFRESH},
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
