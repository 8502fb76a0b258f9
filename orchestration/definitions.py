"""The Dagster code location: it only assembles what the modules beside it define."""

import sys
from pathlib import Path

from dagster import Definitions
from dagster_dbt import DbtCliResource

from funnelhouse.orchestration.assets.dbt import dbt_marts, dbt_staging
from funnelhouse.orchestration.assets.ingest import ingest_assets
from funnelhouse.orchestration.assets.quality import mart_checks, publish_marts, raw_checks
from funnelhouse.orchestration.dbt_project import DBT_PROJECT
from funnelhouse.orchestration.jobs import full_refresh, hourly, incremental, nightly
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.orchestration.sensors import freshness_sensor, marts_freshness, report_failed_run

defs = Definitions(
    assets=[*ingest_assets(), dbt_staging, dbt_marts, publish_marts],
    asset_checks=[raw_checks, mart_checks, *marts_freshness],
    jobs=[incremental, full_refresh],
    schedules=[hourly, nightly],
    sensors=[freshness_sensor, report_failed_run],
    resources={
        "warehouse": WarehouseResource(),
        "dbt": DbtCliResource(
            project_dir=DBT_PROJECT,
            # The dbt installed beside this interpreter, whatever PATH says.
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
        ),
    },
)
