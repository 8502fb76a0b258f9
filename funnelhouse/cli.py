"""The `funnelhouse` command line: one entry point for the warehouse, sources and pipeline."""

from __future__ import annotations

import os

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
    """Run a pipeline job once against the configured warehouse and sources (sources not set
    in the environment come from the emulators of `make up`, while it runs)."""
    from funnelhouse.orchestration.run import JobFailed, run_job
    from funnelhouse.stack import running_sources_env

    settings = get_settings()
    local = {k: v for k, v in running_sources_env(settings).items() if k not in os.environ}
    if local:
        os.environ.update(local)
        typer.echo("sources: the emulators of the local stack (`make up`)")
    try:
        result = run_job(job, settings)
    except JobFailed as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"job {job} succeeded (run {result.run_id})")


@app.command()
def up(
    dagster_port: int = typer.Option(
        3000, envvar="FUNNELHOUSE_DAGSTER_PORT", help="Port of the Dagster UI."
    ),
    sources_port: int = typer.Option(
        18100,
        envvar="FUNNELHOUSE_SOURCES_PORT",
        help="First emulator port (amoCRM; Bitrix24, UIS, 1C take the next three); 0 = free.",
    ),
    seed: int = typer.Option(42, help="Seed of the simulated company behind the emulators"),
    scale: float = typer.Option(0.5, help="Size: 1 ≈ 10 000 leads and 100 000 calls"),
    rate_multiplier: float = typer.Option(10.0, help="Multiply the APIs' rate limits"),
    timeout: float = typer.Option(300.0, help="Seconds to wait for each part to answer"),
) -> None:
    """Start the warehouse, the source emulators and Dagster in the background."""
    from funnelhouse.stack import StackError, StackOptions, log_file
    from funnelhouse.stack import up as stack_up

    settings = get_settings()
    opts = StackOptions(
        dagster_port=dagster_port, sources_port=sources_port, seed=seed, scale=scale,
        rate_multiplier=rate_multiplier, timeout=timeout,
    )  # fmt: skip
    try:
        stack = stack_up(settings, opts, echo=typer.echo)
    except StackError as exc:
        typer.secho(f"up failed: {exc}", fg="red", err=True)
        if exc.tail:
            typer.echo(f"--- last lines of {exc.log} ---\n{exc.tail}\n---", err=True)
        if exc.hint:
            typer.echo(f"Next: {exc.hint}", err=True)
        typer.echo("`make down` stops whatever did start.", err=True)
        raise typer.Exit(1) from None
    logs = log_file(settings, "*").parent
    typer.echo(
        f"\nDagster UI:  {stack.dagster_url}  (asset graph: {stack.dagster_url}/asset-groups)\n"
        f"Warehouse:   {stack.warehouse_url}  (`funnelhouse query 'SELECT ...'`)\n"
        f"Logs:        {logs}/{{warehouse,sources,dagster}}.log\n"
        "`make down` stops everything."
    )


@app.command()
def down(
    timeout: float = typer.Option(30.0, help="Seconds to wait before SIGKILL"),
) -> None:
    """Stop what `up` started: Dagster, the source emulators, the warehouse."""
    from funnelhouse.stack import down as stack_down

    for line in stack_down(get_settings(), timeout):
        typer.echo(line)


if __name__ == "__main__":
    app()
