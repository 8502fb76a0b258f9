"""The dbt project as Dagster assets, built and tested by one `dbt build`.

The raw suites check raw after ingest, before this step. In the one `dbt build`, each staging
model's tests run before anything built on it: a failed test skips every intermediate model and
mart built on its table (for a relationship test, on both its tables) and fails the step, so no
mart suite or publish runs; other models may be built into intermediate and the candidate
marts, which BI never reads and the next run rebuilds. One dbt process instead of one per
layer: dbt's start and project load (about 4 s) are paid once per run, and dbt runs the marts
of one source while it still tests the staging tables of another.
(No `from __future__ import annotations`: Dagster reads annotations at definition time.)
"""

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetObservation, MetadataValue
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from funnelhouse.dbt import dbt_env
from funnelhouse.orchestration.dbt_project import DBT_PROJECT, prepare_dbt_project
from funnelhouse.orchestration.modes import is_full_refresh
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.orchestration.unchanged_inputs import unchanged_build
from funnelhouse.progress import unchanged_message
from funnelhouse.warehouse.publish import PUBLISHED_DATABASE

DBT_PROJECT.prepare_if_dev()  # `dagster dev`: re-parsed at every reload of the code location
if not DBT_PROJECT.manifest_path.exists():
    prepare_dbt_project()  # a fresh clone imported some other way (`dagster asset list`, ...)
MANIFEST: dict[str, Any] = json.loads(DBT_PROJECT.manifest_path.read_text())
MARTS_FOLDER = "marts"
# The observation metadata Dagster's last-update freshness checks read as the update time.
LAST_UPDATED = "dagster/last_updated_timestamp"


class LayerTranslator(DagsterDbtTranslator):
    """raw/<table> for sources (the ingest assets), <database>/<model> for models."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return f"raw_{dbt_resource_props['source_name']}"
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"  # seeds load beside the staging models, in the same dbt step
        return dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else None


TRANSLATOR = LayerTranslator()


def _marts() -> dict[str, AssetKey]:
    """Every model in models/marts/, by name, with its asset key (the candidate table): the
    marts `publish` makes live, whether or not a GX suite checks them yet."""
    return {
        node["name"]: TRANSLATOR.get_asset_key(node)
        for node in MANIFEST["nodes"].values()
        if node["resource_type"] == "model"
        and node["package_name"] == DBT_PROJECT.name
        and node["fqn"][1:2] == [MARTS_FOLDER]
    }


MARTS: dict[str, AssetKey] = dict(sorted(_marts().items()))


# dbt unit tests check the models' SQL against fixed rows: they change only when the project
# does, so `make test` runs them (tests/dbt), not every hourly build (about 2.5 s each run).
SCHEDULED_BUILD_ARGS = ("--exclude-resource-type", "unit_test")


@dbt_assets(
    manifest=MANIFEST,
    project=DBT_PROJECT,
    select="fqn:*",
    name="dbt_build",
    dagster_dbt_translator=TRANSLATOR,
)
def dbt_build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build` of the selected models; nothing when the inputs are those the live marts
    were built from (Dagster then skips the steps after it)."""
    env = dbt_env(warehouse.settings())
    os.environ.update(env)
    full_refresh = is_full_refresh(context)
    with warehouse.client() as client:
        live = unchanged_build(client, context.run.run_id, set(env), full_refresh=full_refresh)
    if live is not None:
        context.log.info(unchanged_message(live))
        # The live marts are current, not stale: what the freshness checks read.
        now = MetadataValue.timestamp(time.time())
        for mart in MARTS:
            context.log_event(AssetObservation(
                asset_key=AssetKey([PUBLISHED_DATABASE, mart]),
                metadata={LAST_UPDATED: now, "publish_id": live,
                          "how": "inputs unchanged since this publish"},
            ))  # fmt: skip
        return
    args = ["build", *SCHEDULED_BUILD_ARGS, *(["--full-refresh"] if full_refresh else [])]
    yield from dbt.cli(args, context=context).stream()


# The staging models (the layer over raw; ephemeral ones are no asset): a publish moves the
# batch-validation watermark of those this run built and tested.
STAGING_KEYS: frozenset[AssetKey] = frozenset(dbt_build.keys) & {
    TRANSLATOR.get_asset_key(node)
    for node in MANIFEST["nodes"].values()
    if node["resource_type"] == "model"
    and node["package_name"] == DBT_PROJECT.name
    and node["fqn"][1:2] == ["staging"]
}
