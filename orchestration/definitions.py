"""The Dagster code location: it only assembles what the modules beside it define."""

import logging
import sys
from pathlib import Path

from dagster import Definitions, JobDefinition

from funnelhouse.orchestration.assets.dbt import dbt_build
from funnelhouse.orchestration.assets.ingest import ingest_assets
from funnelhouse.orchestration.assets.quality import mart_checks, publish_marts, raw_checks
from funnelhouse.orchestration.dbt_project import DBT_PROJECT
from funnelhouse.orchestration.jobs import full_refresh, hourly, incremental, nightly
from funnelhouse.orchestration.resources import LocalDbtCliResource, WarehouseResource
from funnelhouse.orchestration.sensors import freshness_sensor, marts_freshness, report_failed_run

defs = Definitions(
    assets=[*ingest_assets(), dbt_build, publish_marts],
    asset_checks=[raw_checks, mart_checks, *marts_freshness],
    jobs=[incremental, full_refresh],
    schedules=[hourly, nightly],
    sensors=[freshness_sensor, report_failed_run],
    resources={
        "warehouse": WarehouseResource(),
        "dbt": LocalDbtCliResource(
            project_dir=DBT_PROJECT,
            # The dbt installed beside this interpreter, whatever PATH says.
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
        ),
    },
)


def job_named(name: str) -> JobDefinition:
    """A job of this location by name: what `funnelhouse run` hands to the step processes so
    they rebuild the job (`build_reconstructable_job`), as the UI's run workers do."""
    return defs.resolve_job_def(name)


class _IndirectTestObservations(logging.Filter):
    """Drops dagster-dbt's warning for each dbt test it records as an observation, not a check.

    `dbt build` also runs the tests of ephemeral intermediate models: they have no table, so
    no asset and no asset check, and dagster-dbt warns once per such test and per run that it
    logs an observation instead (~34 lines each run). The observations are still recorded and
    a failing test still fails its dbt step; only the warning, which asks for nothing to be
    done, is left out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(
            "Logging an `AssetObservation` instead of an `AssetCheckResult`"
        )


logging.getLogger("dagster.builtin").addFilter(_IndirectTestObservations())
