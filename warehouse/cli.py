"""`funnelhouse warehouse ...`: run and inspect the embedded ClickHouse endpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from funnelhouse.warehouse.embedded import process
from funnelhouse.warehouse.settings import WarehouseSettings, get_settings

app = typer.Typer(help="The embedded ClickHouse endpoint (chDB behind the HTTP interface).")
console = Console(stderr=True)


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address [default: CLICKHOUSE_HOST or 127.0.0.1]"),
    port: int = typer.Option(None, help="HTTP port [default: CLICKHOUSE_PORT or 8123]"),
    data_dir: Path = typer.Option(None, help="[default: FUNNELHOUSE_DATA_DIR or ./.data]"),
    users_file: Path = typer.Option(None, help="Users TOML [default: FUNNELHOUSE_USERS_FILE]"),
    threads: int = typer.Option(16, help="Concurrent requests served"),
) -> None:
    """Serve the warehouse in the foreground until Ctrl-C or SIGTERM."""
    from funnelhouse.warehouse.embedded.server import DataDirLocked, UnsafeBind
    from funnelhouse.warehouse.embedded.server import serve as run_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = _settings(host, port, data_dir)
    try:
        run_server(settings.warehouse_dir, settings.host, settings.port, users_file, threads)
    except (DataDirLocked, UnsafeBind) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def start(
    port: int = typer.Option(None, help="HTTP port [default: CLICKHOUSE_PORT or 8123]"),
    data_dir: Path = typer.Option(None, help="[default: FUNNELHOUSE_DATA_DIR or ./.data]"),
) -> None:
    """Start the endpoint in the background (no-op if one already answers)."""
    settings = _settings(None, port, data_dir)
    pid = process.start_background(settings)
    state = f"started (pid {pid})" if pid else "already running"
    console.print(f"warehouse {state} at {settings.http_url}; log: {process.log_file(settings)}")


@app.command()
def stop(data_dir: Path = typer.Option(None)) -> None:
    """Stop the background endpoint started by `start`."""
    settings = _settings(None, None, data_dir)
    console.print("warehouse stopped" if process.stop_background(settings) else "not running")


def _settings(host: str | None, port: int | None, data_dir: Path | None) -> WarehouseSettings:
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = get_settings().model_copy(update=overrides)
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir.resolve()})
    return settings
