"""Zip the dashboards kept as code (bi/assets) into a bundle Superset imports.

bi/assets is Superset's export format (metadata.yaml, databases/, datasets/, charts/,
dashboards/) with one convenience: a dashboard without a `position` gets one here, built from
the charts in charts/<dashboard slug>/ in file-name order (two per row; tables full width).
Adding a chart to a dashboard is therefore one YAML file in that folder.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

ASSETS = Path(__file__).resolve().parent / "assets"
ROOT = "funnelhouse_dashboards"  # Superset strips the first folder of every bundle path
FULL_WIDTH = {"table", "pivot_table_v2"}
ROW_HEIGHT = 60  # grid units of 8 px


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    return data


def _position(title: str, charts: list[dict[str, Any]]) -> dict[str, Any]:
    """Superset's layout tree: ROOT → GRID → rows of CHART nodes, 12 columns wide."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
        "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
        "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": title}, "type": "HEADER"},
    }
    rows: list[list[dict[str, Any]]] = []
    for chart in charts:
        wide = chart["viz_type"] in FULL_WIDTH
        if wide or not rows or len(rows[-1]) == 2 or rows[-1][0]["viz_type"] in FULL_WIDTH:
            rows.append([])
        rows[-1].append(chart)
    placeholder = 0  # the importer maps meta.chartId to the imported chart's id via its uuid
    for r, row in enumerate(rows):
        row_id = f"ROW-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "children": [],
            "id": row_id,
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
            "parents": ["ROOT_ID", "GRID_ID"],
            "type": "ROW",
        }
        for chart in row:
            chart_id = f"CHART-{chart['uuid']}"
            placeholder += 1
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {
                "children": [],
                "id": chart_id,
                "meta": {
                    "chartId": placeholder,
                    "height": ROW_HEIGHT,
                    "sliceName": chart["slice_name"],
                    "uuid": chart["uuid"],
                    "width": 12 if len(row) == 1 else 6,
                },
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "type": "CHART",
            }
    return position


def _database_uri(uri: str, host: str, port: int) -> str:
    """The repository's URI pointed at this warehouse; the password stays masked."""
    parts = urlsplit(uri)
    userinfo = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}:{port}"))


def contents(host: str, port: int, assets: Path = ASSETS) -> dict[str, str]:
    """Bundle path → YAML text, positions filled in and the database pointed at host:port."""
    files: dict[str, str] = {}
    for path in sorted(assets.rglob("*.yaml")):
        rel = path.relative_to(assets).as_posix()
        data = _load(path)
        if rel.startswith("databases/"):
            data["sqlalchemy_uri"] = _database_uri(data["sqlalchemy_uri"], host, port)
        elif rel.startswith("dashboards/") and not data.get("position"):
            folder = assets / "charts" / data["slug"]
            charts = [_load(p) for p in sorted(folder.glob("*.yaml"))]
            if not charts:
                raise ValueError(f"{rel}: no charts in {folder} and no position")
            data["position"] = _position(data["dashboard_title"], charts)
        files[rel] = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return files


def database_files(assets: Path = ASSETS) -> list[str]:
    """Bundle paths of the database configs (the importer takes their passwords by path)."""
    return sorted(p.relative_to(assets).as_posix() for p in (assets / "databases").glob("*.yaml"))


def write_zip(target: Path, host: str, port: int, assets: Path = ASSETS) -> Path:
    """Write the bundle as a ZIP (the same file Superset's UI imports) and return its path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, text in contents(host, port, assets).items():
            z.writestr(f"{ROOT}/{rel}", text)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    return target
