"""The dbt models pass sqlfluff (ClickHouse dialect, dbt_project/.sqlfluff): `make lint` in CI."""

from __future__ import annotations

import subprocess
import sys

from funnelhouse.dbt import DBT_PROJECT_DIR


def test_models_pass_sqlfluff():
    lint = subprocess.run(
        [sys.executable, "-m", "sqlfluff", "lint", "models", "--disable-progress-bar",
         "--nofail", "--format", "github-annotation-native"],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stderr
    problems = [line for line in lint.stdout.splitlines() if line.startswith("::")]
    assert problems == [], "\n".join(problems)
