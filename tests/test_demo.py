"""What `make demo` prints: every key mart of the last full month, readable, never blank."""

from __future__ import annotations

import shutil

import pytest

from funnelhouse.dbt import DBT_PROJECT_DIR
from funnelhouse.demo import KEY_MARTS, console, print_key_marts, print_query
from tests.dbt import golden_data as g
from tests.dbt.conftest import dbt_build, load_golden, reset_pipeline


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):
    """The hand-written company built straight into `marts`, as a publish leaves it."""
    store = reset_pipeline(warehouse)
    project = tmp_path_factory.mktemp("dbt") / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "seeds" / "manager_plans.csv").write_text(g.PLANS)
    load_golden(store)
    mp = pytest.MonkeyPatch()
    mp.setenv("FUNNELHOUSE_MARTS_SCHEMA", "marts")
    dbt_build(warehouse, "--vars", g.VARS, project_dir=project)
    mp.undo()
    return warehouse


def test_every_key_mart_prints_rows_for_the_last_full_month(published):
    with console.capture() as out:
        print_key_marts(published)
    text = out.get()
    # The marts end in March 2026 (L3 won on 03-01, the last leads on 03-02..05): February is
    # the last full month, and every report names it and has rows for it.
    assert "Manager activity, February 2026" in text
    assert "no rows" not in text
    assert text.count("February 2026") == sum("{month_name}" in t for t, _ in KEY_MARTS)
    # Amounts grouped by thousands with the currency; weekdays and months by name.
    assert "100\u202f000 ₽" in text  # ООО Ромашка's January sales, in the 1C report
    assert "Fri" in text  # C4, the missed call, rang on a Friday
    assert "Jan 2026" in text


def test_an_empty_result_says_so(published):
    with console.capture() as out:
        assert print_query(published, "SELECT 1 WHERE 0", "Nothing") == 0
    assert out.get().strip() == "Nothing: no rows"
