"""Where the warehouse is and how to reach it, read once from the environment.

The same variables point every component (ingest, dbt, GX, Dagster) at the embedded endpoint
by default, or at a real ClickHouse server or cluster in production.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class WarehouseSettings(BaseSettings):
    """ClickHouse connection (`CLICKHOUSE_*`) and the embedded endpoint's data directory."""

    # populate_by_name: code may pass data_dir= while the environment spells it
    # FUNNELHOUSE_DATA_DIR.
    model_config = SettingsConfigDict(
        env_prefix="CLICKHOUSE_", extra="ignore", populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = 8123
    user: str = "default"
    password: SecretStr = SecretStr("")
    secure: bool = False
    cluster: str | None = None
    connect_timeout: float = 10.0
    send_receive_timeout: float = 600.0

    data_dir: Path = Field(
        default=REPO_ROOT / ".data",
        validation_alias="FUNNELHOUSE_DATA_DIR",
        description="Root for the embedded warehouse, cursors, Data Docs and run artefacts.",
    )

    @property
    def is_embedded_default(self) -> bool:
        """True when the settings point at the loopback endpoint that `warehouse serve` runs."""
        return self.host in {"127.0.0.1", "localhost", "::1"} and not self.secure

    @property
    def http_url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"


@lru_cache(maxsize=1)
def get_settings() -> WarehouseSettings:
    return WarehouseSettings()
