"""The dashboards kept as code (bi/assets) and the bundle `make bi` imports, without Superset.

What the browser test (tests_ui, `make test-ui`) cannot say cheaply: every reference in the bundle
resolves, every chart names its unit and its axes, the password never leaves the repo unmasked,
and a chart dropped into a dashboard's folder lands on that dashboard.
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from bi import bundle

CATEGORICAL_OR_TIME = {"echarts_timeseries_line", "echarts_timeseries_bar", "echarts_area"}


def _parsed(files: dict[str, str]) -> dict[str, dict]:
    return {path: yaml.safe_load(text) for path, text in files.items()}


@pytest.fixture(scope="module")
def files() -> dict[str, dict]:
    return _parsed(bundle.contents("127.0.0.1", 8123))


def test_every_reference_resolves(files: dict[str, dict]) -> None:
    by_kind = {k: {p: d for p, d in files.items() if p.startswith(f"{k}/")}
               for k in ("databases", "datasets", "charts", "dashboards")}  # fmt: skip
    database_uuids = {d["uuid"] for d in by_kind["databases"].values()}
    dataset_uuids = {d["uuid"] for d in by_kind["datasets"].values()}
    chart_uuids = {d["uuid"] for d in by_kind["charts"].values()}
    assert files["metadata.yaml"]["type"] == "assets"
    assert all(d["database_uuid"] in database_uuids for d in by_kind["datasets"].values())
    assert all(c["dataset_uuid"] in dataset_uuids for c in by_kind["charts"].values())
    placed = [
        node["meta"]["uuid"]
        for dash in by_kind["dashboards"].values()
        for node in dash["position"].values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    ]
    assert sorted(placed) == sorted(chart_uuids), "every chart on exactly one dashboard"
    uuids = [d["uuid"] for d in files.values() if "uuid" in d]
    assert len(uuids) == len(set(uuids))


def test_charts_say_what_they_answer_and_in_which_unit(files: dict[str, dict]) -> None:
    for path, chart in files.items():
        if not path.startswith("charts/"):
            continue
        assert re.search(r"\([^)]+\)$", chart["slice_name"]), f"{path}: no (unit) in the title"
        params = chart["params"]
        if chart["viz_type"] in CATEGORICAL_OR_TIME:
            assert params["x_axis_title"] and params["y_axis_title"], path
        if chart["viz_type"] == "bubble_v2":
            assert params["x_axis_label"] and params["y_axis_label"], path


def test_database_points_at_the_warehouse_with_the_password_masked() -> None:
    files = _parsed(bundle.contents("warehouse.internal", 18123))
    (db,) = (d for p, d in files.items() if p.startswith("databases/"))
    assert db["sqlalchemy_uri"] == "clickhousedb://bi:XXXXXXXXXX@warehouse.internal:18123/marts"
    assert bundle.database_files() == ["databases/funnelhouse_marts.yaml"]


def test_one_chart_file_adds_a_chart_to_its_dashboard(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    shutil.copytree(bundle.ASSETS, assets)
    source = assets / "charts" / "forgotten" / "10_by_manager.yaml"
    chart = yaml.safe_load(source.read_text())
    chart.update(uuid="00000000-0000-4000-8000-000000000042", slice_name="Another chart (deals)")
    (assets / "charts" / "forgotten" / "99_another.yaml").write_text(yaml.safe_dump(chart))

    position = _parsed(bundle.contents("127.0.0.1", 8123, assets))["dashboards/forgotten.yaml"][
        "position"
    ]
    charts = [n for n in position.values() if isinstance(n, dict) and n["type"] == "CHART"]
    names = [n["meta"]["sliceName"] for n in charts]
    assert names[-1] == "Another chart (deals)"
    rows = position["GRID_ID"]["children"]
    assert position[rows[-1]]["children"] == ["CHART-00000000-0000-4000-8000-000000000042"]


def test_zip_has_one_root_folder(tmp_path: Path) -> None:
    target = bundle.write_zip(tmp_path / "dashboards.zip", "127.0.0.1", 8123)
    names = zipfile.ZipFile(io.BytesIO(target.read_bytes())).namelist()
    assert {n.split("/", 1)[0] for n in names} == {bundle.ROOT}
    assert f"{bundle.ROOT}/metadata.yaml" in names
