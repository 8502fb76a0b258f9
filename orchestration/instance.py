"""A Dagster home under the data directory, so local runs keep their history and logs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from funnelhouse.warehouse.settings import WarehouseSettings

TEMPLATE = Path(__file__).with_name("dagster.yaml")


def dagster_home(settings: WarehouseSettings) -> Path:
    """$DAGSTER_HOME if set, else <data_dir>/dagster with our dagster.yaml; exported."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != TEMPLATE.read_text():
        shutil.copyfile(TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
