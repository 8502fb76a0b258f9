"""Run the dbt project against the configured warehouse."""

from __future__ import annotations

import os
from pathlib import Path

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


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """target/manifest.json, re-parsed when any project file is newer (Dagster reads it)."""
    manifest = project_dir / "target" / "manifest.json"
    sources = [
        p for d in ("models", "macros", "tests", "seeds") for p in (project_dir / d).rglob("*")
    ]
    sources.append(project_dir / "dbt_project.yml")
    newest = max((p.stat().st_mtime for p in sources if p.is_file()), default=0)
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        result = dbtRunner().invoke(
            ["parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
             "--quiet"]
        )  # fmt: skip
        if not result.success:
            raise DbtFailed(f"dbt parse failed: {result.exception}")
    return manifest
