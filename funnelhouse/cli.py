"""The `funnelhouse` command line: one entry point for the warehouse, sources and pipeline."""

from __future__ import annotations

import typer

from funnelhouse.ingest.cli import app as ingest_app
from funnelhouse.simulator.cli import app as sources_app
from funnelhouse.warehouse.cli import app as warehouse_app
from funnelhouse.warehouse.settings import get_settings

app = typer.Typer(
    help="funnelhouse: batch ELT for sales and contact-centre analytics on ClickHouse.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(sources_app, name="sources")
app.add_typer(ingest_app, name="ingest")


@app.command()
def demo(
    seed: int = typer.Option(42, help="Seed of the simulated company"),
    scale: float = typer.Option(0.5, help="Size: 1 ≈ 10 000 leads and 100 000 calls"),
    rate_multiplier: float = typer.Option(10.0, help="Multiply the APIs' rate limits"),
    keep_running: bool = typer.Option(False, help="Leave the warehouse running afterwards."),
) -> None:
    """Run the whole pipeline on simulated sources and the embedded warehouse; print marts."""
    from funnelhouse.dbt import DbtFailed
    from funnelhouse.demo import demo as run_demo

    try:
        run_demo(get_settings(), seed, scale, rate_multiplier, keep_running)
    except (DbtFailed, RuntimeError) as exc:
        typer.secho(f"demo failed: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


@app.command()
def query(sql: str = typer.Argument(..., help="SQL to run on the configured warehouse")) -> None:
    """Print a query's result from the configured warehouse."""
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from funnelhouse.demo import print_query

    try:
        print_query(get_settings(), sql)
    except ClickHouseError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None


@app.command()
def run(job: str = typer.Option("incremental", help="incremental or full_refresh")) -> None:
    """Run a pipeline job once against the configured warehouse and sources."""
    from funnelhouse.orchestration.run import JobFailed, run_job

    try:
        result = run_job(job, get_settings())
    except JobFailed as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"job {job} succeeded (run {result.run_id})")


@app.command()
def up() -> None:
    """Start the embedded warehouse in the background."""
    from funnelhouse.warehouse.embedded import process

    settings = get_settings()
    pid = process.start_background(settings)
    typer.echo(f"warehouse {'started' if pid else 'already running'} at {settings.http_url}")


@app.command()
def down() -> None:
    """Stop what `up` started."""
    from funnelhouse.warehouse.embedded import process

    stopped = process.stop_background(get_settings())
    typer.echo("warehouse stopped" if stopped else "warehouse was not running")


if __name__ == "__main__":
    app()
