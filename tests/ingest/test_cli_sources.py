"""The operator's commands against the emulators: `sources check`, `run --select --since`,
`status`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from funnelhouse.cli import app
from tests.conftest import use_emulators


@pytest.fixture
def cli_env(emulators, warehouse, monkeypatch, tmp_path):
    """The CLI's environment: the emulators, the test warehouse, a private data dir (so a
    local stack of the developer's is not picked up, and Dagster's history stays here)."""
    use_emulators(monkeypatch, emulators, warehouse)
    monkeypatch.setenv("FUNNELHOUSE_DATA_DIR", str(tmp_path))
    return emulators


def test_check_says_ok_for_each_configured_source(cli_env, monkeypatch):
    monkeypatch.delenv("AMOCRM_TOKEN")
    out = CliRunner().invoke(app, ["sources", "check"])
    assert out.exit_code == 0, out.output
    lines = out.output
    assert "not configured" in lines and "AMOCRM_TOKEN" in lines
    assert lines.count(" ok ") == 3  # Bitrix24, UIS, 1C answered
    assert cli_env.stats()["amocrm"]["requests"] == 0


def test_check_fails_and_says_what_to_fix(cli_env, monkeypatch):
    monkeypatch.setenv("UIS_ACCESS_TOKEN", "not-the-token")
    monkeypatch.setenv("ONEC_BASE_URL", "http://funnelhouse-test.invalid/ib/odata")
    out = CliRunner().invoke(app, ["sources", "check"])
    assert out.exit_code == 1, out.output
    assert "-32001" in out.output and "check UIS_ACCESS_TOKEN" in out.output
    assert "cannot resolve host" in out.output and "ONEC_BASE_URL" in out.output
    assert "not-the-token" not in out.output


def test_run_one_asset_since_a_date_then_status(cli_env, warehouse, fresh_forkserver):
    runner = CliRunner()
    out = runner.invoke(app, ["run", "--select", 'key:"raw/uis__calls"', "--since", "2020-01-01"])
    assert out.exit_code == 0, out.output
    assert "job incremental succeeded" in out.output
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    row = next(line for line in status.output.splitlines() if "uis/calls" in line)
    assert " s " in row or "min" in row  # loaded moments ago
    assert "never" not in row
    assert "amocrm/leads" in status.output
