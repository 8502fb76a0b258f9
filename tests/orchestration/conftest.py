"""Helpers shared by the Dagster gate tests."""

from __future__ import annotations

import pytest

from funnelhouse.orchestration.dbt_project import prepare_dbt_project


def pytest_configure(config: pytest.Config) -> None:
    """Parse the dbt project before any test module here imports the code location: outside
    `dagster dev` nothing else would, and a fresh clone has no manifest."""
    prepare_dbt_project()


def marts_fingerprint(client) -> dict[str, tuple]:
    """Row count and content hash of every published mart: equal means byte-identical."""
    from funnelhouse.orchestration.assets.dbt import MARTS

    return {
        m: client.query(f"SELECT count(), sum(cityHash64(tuple(*))) FROM marts.{m}").result_rows[0]
        for m in MARTS
    }
