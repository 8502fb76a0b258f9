"""Where the upstream checkouts, the tool environments and the results live (one place)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The JS client's test helpers connect to 127.0.0.1:8123, so the endpoint listens there.
DEFAULT_PORT = 8123


@dataclass(frozen=True)
class CompatSettings:
    workdir: Path
    port: int
    checkouts: dict[str, Path | None]


CHECKOUT_VARS = {
    "clickhouse-connect": "FUNNELHOUSE_COMPAT_CONNECT",
    "clickhouse-js": "FUNNELHOUSE_COMPAT_JS",
    "dbt-clickhouse": "FUNNELHOUSE_COMPAT_DBT",
}


def get_settings() -> CompatSettings:
    workdir = Path(os.environ.get("FUNNELHOUSE_COMPAT_WORKDIR") or REPO_ROOT / ".compat")
    port = int(os.environ.get("FUNNELHOUSE_COMPAT_PORT") or DEFAULT_PORT)
    checkouts = {
        suite: Path(os.environ[var]).expanduser().resolve() if os.environ.get(var) else None
        for suite, var in CHECKOUT_VARS.items()
    }
    return CompatSettings(workdir.resolve(), port, checkouts)
