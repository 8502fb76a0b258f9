"""Dagster resources, configured from the environment like everything else."""

import importlib.metadata
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from clickhouse_connect.driver.client import Client
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from packaging import version

from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.settings import WarehouseSettings


class WarehouseResource(ConfigurableResource):
    """The ClickHouse warehouse; empty fields fall back to the CLICKHOUSE_* environment.

    The password is never a field here: it is read from CLICKHOUSE_PASSWORD at run time, so
    it cannot show up in run config or the UI.
    """

    host: str | None = None
    port: int | None = None
    user: str | None = None
    cluster: str | None = None

    def settings(self) -> WarehouseSettings:
        fields = {"host": self.host, "port": self.port, "user": self.user, "cluster": self.cluster}
        overrides = {k: v for k, v in fields.items() if v is not None}
        return WarehouseSettings().model_copy(update=overrides)

    @contextmanager
    def client(self) -> Iterator[Client]:
        client = get_client(self.settings())
        try:
            yield client
        finally:
            client.close()


class LocalDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, for the dbt installed beside this interpreter.

    dagster-dbt learns the dbt version by running `dbt --version` once per resource, so once in
    every dbt step's process: 5-8 s each (it also asks PyPI for a newer release, which waits
    out a timeout where there is no internet). The executable is the `dbt` of this environment
    (definitions.py), so the version of its installed dbt-core package is the same answer."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))
