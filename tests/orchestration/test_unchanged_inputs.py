"""What counts as a change of the transform's definition: the dbt project's files and the
environment its `env_var()` calls read, not what dbt writes into the project folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from funnelhouse.dbt import DBT_PROJECT_DIR, dbt_env
from funnelhouse.expectations.runner import Check
from funnelhouse.orchestration import unchanged_inputs
from funnelhouse.orchestration.unchanged_inputs import gate_digest, project_digest
from funnelhouse.warehouse.settings import WarehouseSettings

CONNECTION = set(dbt_env(WarehouseSettings()))  # what the dbt steps pass


@pytest.fixture
def project(tmp_path):
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target*", "logs"))
    return copy


def test_a_model_seed_or_var_change_is_a_change(project):
    before = project_digest(CONNECTION, project)
    model = project / "models" / "marts" / "call_load_by_stage.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert project_digest(CONNECTION, project) != before
    edited = project_digest(CONNECTION, project)
    yml = project / "dbt_project.yml"
    yml.write_text(yml.read_text().replace("forgotten_deal_days: 14", "forgotten_deal_days: 15"))
    assert project_digest(CONNECTION, project) != edited
    varied = project_digest(CONNECTION, project)
    seed = next((project / "seeds").glob("*.csv"))
    seed.write_text(seed.read_text() + "\n")
    assert project_digest(CONNECTION, project) != varied


def test_dbt_output_and_the_connection_are_not(project, monkeypatch):
    before = project_digest(CONNECTION, project)
    (project / "target" / "t2").mkdir(parents=True)
    (project / "target" / "t2" / "manifest.json").write_text("{}")
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("a run")
    (project / ".user.yml").write_text("id: x")
    monkeypatch.setenv("DBT_TARGET_PATH", "build_output")  # dbt's output, wherever it goes
    (project / "build_output").mkdir()
    (project / "build_output" / "run_results.json").write_text("{}")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "another")
    monkeypatch.setenv("CLICKHOUSE_PORT", "1")
    assert project_digest(CONNECTION, project) == before


@pytest.mark.parametrize("name", ["FUNNELHOUSE_GATE_VALIDATION", "FUNNELHOUSE_MARTS_SCHEMA"])
def test_an_environment_variable_dbt_reads_is_a_change(project, monkeypatch, name):
    monkeypatch.delenv(name, raising=False)
    before = project_digest(CONNECTION, project)
    monkeypatch.setenv(name, "full")
    assert project_digest(CONNECTION, project) != before


def test_a_tightened_mart_suite_is_a_change(monkeypatch):
    """The live marts passed the suites as they were: a stricter one must check them at the
    next run, quiet or not. The digest is the same in every process (runs compare digests
    that other processes recorded), whatever Python's hash seed."""
    before = gate_digest()
    code = (
        "from funnelhouse.orchestration.unchanged_inputs import gate_digest; print(gate_digest())"
    )
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True)  # fmt: skip
        assert out.stdout.strip() == before
    suites = unchanged_inputs.mart_suites

    def tightened(database: str):
        first, *rest = suites(database)
        stricter = Check("ExpectTableRowCountToBeBetween", "at least one row", {"min_value": 1})
        return [replace(first, expectations=[*first.expectations, stricter]), *rest]

    monkeypatch.setattr(unchanged_inputs, "mart_suites", tightened)
    assert gate_digest() != before
