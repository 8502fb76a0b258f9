"""The manifest is parsed once per process and warehouse profile."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from funnelhouse.orchestration import dbt_project


@pytest.fixture
def parses(monkeypatch, tmp_path):
    """Counts the parses `prepare_dbt_project` asks for (none runs)."""
    calls: list[str] = []
    fake = SimpleNamespace(
        preparer=SimpleNamespace(prepare=lambda project: calls.append(project.port)),
        manifest_path=tmp_path / "manifest.json",
        port=None,
    )
    monkeypatch.setattr(dbt_project, "DBT_PROJECT", fake)
    dbt_project._prepare.cache_clear()
    yield calls, fake
    dbt_project._prepare.cache_clear()  # nothing cached under the fake project


def test_the_project_is_parsed_again_only_when_the_profile_changes(parses, monkeypatch):
    """dbt's partial parse is keyed on the rendered profile: a process that moves to another
    warehouse port (the bench, scale after scale) must parse again, or each dbt step of its
    runs re-parses the whole project; the same profile (a dbt step exports its defaults) must
    not parse twice."""
    calls, fake = parses
    monkeypatch.setenv("CLICKHOUSE_PORT", "18001")
    fake.port = "18001"
    assert dbt_project.prepare_dbt_project() == Path(fake.manifest_path)
    dbt_project.prepare_dbt_project()
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    monkeypatch.setenv("CLICKHOUSE_USER", "default")  # profiles.yml's default: the same profile
    dbt_project.prepare_dbt_project()
    assert calls == ["18001"]
    monkeypatch.setenv("CLICKHOUSE_PORT", "18002")
    fake.port = "18002"
    dbt_project.prepare_dbt_project()
    assert calls == ["18001", "18002"]
