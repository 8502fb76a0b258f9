"""clickhouse-connect clients built from the one set of warehouse settings."""

from __future__ import annotations

from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from funnelhouse.warehouse.settings import WarehouseSettings, get_settings


def get_client(settings: WarehouseSettings | None = None, **kwargs: Any) -> Client:
    settings = settings or get_settings()
    return clickhouse_connect.get_client(
        host=settings.host,
        port=settings.port,
        username=settings.user,
        password=settings.password.get_secret_value(),
        secure=settings.secure,
        connect_timeout=settings.connect_timeout,
        send_receive_timeout=settings.send_receive_timeout,
        **kwargs,
    )
