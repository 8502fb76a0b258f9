"""Jobs and their schedules: hourly incremental, nightly full refresh (both gated)."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunConfig,
    ScheduleDefinition,
    define_asset_job,
)

from funnelhouse.ingest.sources import SOURCES

BUSINESS_TZ = "Europe/Moscow"
_INGEST_OPS = [
    f"raw__{stream.table}" for source in SOURCES.values() for stream in source.streams.values()
]

incremental = define_asset_job(
    "incremental",
    selection=AssetSelection.all(),
    description="Sync every stream from its cursor, rebuild dbt incrementally, gate, publish.",
    tags={"funnelhouse/mode": "incremental"},
)

full_refresh = define_asset_job(
    "full_refresh",
    selection=AssetSelection.all(),
    description="Re-read every source from the beginning and rebuild dbt from scratch, gated.",
    config=RunConfig(
        ops={
            **{op: {"config": {"full_refresh": True}} for op in _INGEST_OPS},
            "dbt_staging": {"config": {"full_refresh": True}},
            "dbt_marts": {"config": {"full_refresh": True}},
        }
    ),
    tags={"funnelhouse/mode": "full_refresh"},
)

hourly = ScheduleDefinition(
    job=incremental,
    cron_schedule="5 * * * *",
    execution_timezone=BUSINESS_TZ,
    default_status=DefaultScheduleStatus.RUNNING,
)
nightly = ScheduleDefinition(
    job=full_refresh,
    cron_schedule="30 3 * * *",
    execution_timezone=BUSINESS_TZ,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Off by default: turn on where a nightly re-read is affordable.",
)
