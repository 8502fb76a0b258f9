"""The Dagster code location: it only assembles what the modules beside it define."""

from __future__ import annotations

from dagster import Definitions

from funnelhouse.orchestration.assets.ingest import ingest_assets
from funnelhouse.orchestration.resources import WarehouseResource

defs = Definitions(
    assets=[*ingest_assets()],
    resources={"warehouse": WarehouseResource()},
)
