"""The `funnelhouse sources` commands."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from funnelhouse.simulator.cli import app

runner = CliRunner()


def test_serve_prints_urls_and_tokens_and_stops():
    result = runner.invoke(
        app,
        [
            "serve",
            "--seed",
            "3",
            "--scale",
            "0.01",
            "--seconds",
            "0.3",
            "--faults",
            "slow:delay=0.01",
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for needle in (
        "amocrm",
        "token=",
        "webhook_url=http://127.0.0.1:",
        "/v2.0",
        "standard.odata",
        "7 requests/s",
        "leaky bucket 50, drains 2/s",
        "export AMOCRM_TOKEN=",
    ):
        assert needle in out


def test_generate_and_truth(tmp_path):
    result = runner.invoke(app, ["generate", "--seed", "3", "--scale", "0.01"])
    assert result.exit_code == 0
    assert json.loads(result.output.splitlines()[0])["counts"]["leads"] == 100
    result = runner.invoke(app, ["truth", "--seed", "3", "--scale", "0.01", "--out", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "stage_history.parquet").exists()
