"""Run the dbt project against the configured warehouse."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from dbt.cli.main import dbtRunner, dbtRunnerResult

from funnelhouse.warehouse.settings import REPO_ROOT, WarehouseSettings, get_settings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def dbt_env(settings: WarehouseSettings) -> dict[str, str]:
    """The CLICKHOUSE_* variables profiles.yml reads, from the one settings object."""
    return {
        "CLICKHOUSE_HOST": settings.host,
        "CLICKHOUSE_PORT": str(settings.port),
        "CLICKHOUSE_USER": settings.user,
        "CLICKHOUSE_PASSWORD": settings.password.get_secret_value(),
        "CLICKHOUSE_SECURE": str(settings.secure).lower(),
        "CLICKHOUSE_CLUSTER": settings.cluster or "",
    }


class DbtFailed(RuntimeError):
    pass


def run_dbt(
    *args: str, settings: WarehouseSettings | None = None, project_dir: Path = DBT_PROJECT_DIR
) -> dbtRunnerResult:
    """`dbt <args>` in-process; raises DbtFailed with dbt's own message on failure."""
    os.environ.update(dbt_env(settings or get_settings()))
    result = dbtRunner().invoke(
        [*args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    )
    if not result.success:
        failed = [
            f"{r.node.name}: {r.message}"
            for r in getattr(result.result, "results", None) or []
            if str(r.status) in ("error", "fail")
        ]
        detail = "; ".join(failed) or str(result.exception)
        raise DbtFailed(f"dbt {' '.join(args)} failed: {detail}")
    return result


def dbt_project_vars(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any]:
    """The `vars:` of dbt_project.yml, the one place the pipeline's business settings live."""
    with (project_dir / "dbt_project.yml").open(encoding="utf-8") as file:
        return dict(yaml.safe_load(file).get("vars") or {})


def business_timezone(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """The zone periods are cut in (dbt var `business_timezone`): the marts, the GX suites
    that recompute them and the schedules all take it from here."""
    return str(dbt_project_vars(project_dir)["business_timezone"])
