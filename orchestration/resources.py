"""Dagster resources, configured from the environment like everything else."""

from collections.abc import Iterator
from contextlib import contextmanager

from clickhouse_connect.driver.client import Client
from dagster import ConfigurableResource

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
