"""The dbt project as dagster-dbt sees it, and the preparation of its manifest.

Dagster reads `dbt_project/target/manifest.json` (or the folder `$DBT_TARGET_PATH` names) when
the code location is imported. `DbtProject.prepare_if_dev()` re-parses it only under
`dagster dev`; everywhere else dagster-dbt expects it built at deploy time (`dagster-dbt project
prepare-and-package`). Processes that run the pipeline from a checkout (`funnelhouse run`, the
demo, the tests) call `prepare_dbt_project()` before they import the code location, so a fresh
clone works and an edited model is never served from a stale manifest.
"""

import functools
import os
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from funnelhouse.dbt import DBT_PROJECT_DIR, dbt_env
from funnelhouse.warehouse.settings import WarehouseSettings

# DBT_TARGET_PATH is dbt's own variable: honour it here too, so the manifest Dagster reads is
# the one dbt wrote (parallel test workers each keep their own target folder).
DBT_PROJECT = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=os.environ.get("DBT_TARGET_PATH") or "target",
)
# dagster-dbt's preparer runs `dbt` from PATH, and `make test` runs .venv/bin/python without
# the venv on PATH: put the dbt installed beside this interpreter first, as the dbt resource does.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join(filter(None, [_BIN, os.environ.get("PATH")]))


def prepare_dbt_project() -> Path:
    """`dbt parse` into the manifest now, whatever the environment; once per process and
    warehouse profile. dbt keys its partial parse on the rendered profile: a process that
    moves to another warehouse (the bench, scale after scale) parses again, or each dbt step
    of its runs would re-parse the whole project."""
    profile = dbt_env(WarehouseSettings()) | {
        k: v for k, v in os.environ.items() if k.startswith("FUNNELHOUSE_DBT_")
    }
    return _prepare(tuple(sorted(profile.items())))


@functools.cache
def _prepare(_profile: tuple[tuple[str, str], ...]) -> Path:
    DBT_PROJECT.preparer.prepare(DBT_PROJECT)
    return DBT_PROJECT.manifest_path
