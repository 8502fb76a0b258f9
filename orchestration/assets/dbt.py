"""The dbt project as Dagster assets, in two steps with the raw gate between them.

`dbt_staging` builds the staging tables over raw; the raw suites run as blocking checks on
them; only then does `dbt_marts` build intermediate tables and the candidate marts, which the
mart suites check before `publish` swaps them into `marts`.
(No `from __future__ import annotations`: Dagster reads annotations at definition time.)
"""

import os
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from funnelhouse.dbt import DBT_PROJECT_DIR, dbt_env, ensure_manifest
from funnelhouse.orchestration.resources import WarehouseResource

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
MANIFEST = ensure_manifest()


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


class DbtConfig(Config):
    full_refresh: bool = False


def _dbt_step(name: str, select: str):
    """One `dbt build` over a selection, as a Dagster multi-asset."""

    @dbt_assets(
        manifest=MANIFEST,
        project=DBT_PROJECT,
        select=select,
        name=name,
        dagster_dbt_translator=LayerTranslator(),
    )
    def _step(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
        config: DbtConfig,
    ):  # fmt: skip
        os.environ.update(dbt_env(warehouse.settings()))
        args = ["build", *(["--full-refresh"] if config.full_refresh else [])]
        yield from dbt.cli(args, context=context).stream()

    return _step


dbt_staging = _dbt_step("dbt_staging", "staging resource_type:seed")
dbt_marts = _dbt_step("dbt_marts", "intermediate marts")
