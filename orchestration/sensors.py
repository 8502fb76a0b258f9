"""Watching the pipeline: stale marts and failed runs must be loud."""

import warnings
from datetime import timedelta

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunFailureSensorContext,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    run_failure_sensor,
)

from funnelhouse.orchestration.assets.dbt import MARTS
from funnelhouse.warehouse.publish import PUBLISHED_DATABASE

# The marts are published hourly; two hours without a publish means BI shows stale numbers.
with warnings.catch_warnings():  # superseded by freshness policies, which are still beta
    warnings.simplefilter("ignore")
    marts_freshness = build_last_update_freshness_checks(
        assets=[AssetKey([PUBLISHED_DATABASE, m]) for m in MARTS],
        lower_bound_delta=timedelta(hours=2),
    )
    freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=marts_freshness,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=600,
    )


@run_failure_sensor(default_status=DefaultSensorStatus.RUNNING)
def report_failed_run(context: RunFailureSensorContext) -> None:
    """One log line an on-call engineer can act on; wire it to Slack or e-mail here."""
    failure = context.failure_event
    context.log.error(
        f"run {context.dagster_run.run_id} of {context.dagster_run.job_name} failed "
        f"at {failure.step_key or 'the run'}: {failure.message}. The published marts are "
        "unchanged; see the failed checks in the run for what to fix."
    )
