"""The `funnelhouse` command line: one entry point for the warehouse, sources and pipeline."""

from __future__ import annotations

import os
from enum import StrEnum

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


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _use_local_stack() -> None:
    """Sources the environment does not configure come from `make up`'s emulators, if any."""
    from funnelhouse.stack import running_sources_env

    local = {k: v for k, v in running_sources_env(get_settings()).items() if k not in os.environ}
    if local:
        os.environ.update(local)
        typer.echo("sources: the emulators of the local stack (`make up`)", err=True)


@sources_app.command("check")
def sources_check(
    source: list[str] = typer.Option(None, "--source", "-s", help="Sources (default: all)"),
) -> None:
    """Connection test: one cheap authenticated request per configured source; exits 1 if any
    failed, and says what to fix."""
    from rich.console import Console
    from rich.table import Table

    from funnelhouse.ingest.check import FAILED, OK, check_all
    from funnelhouse.ingest.secrets import redact_env
    from funnelhouse.ingest.sources import SOURCES

    unknown = [s for s in source or [] if s not in SOURCES]
    if unknown:
        raise typer.BadParameter(f"unknown source {unknown}; known: {', '.join(SOURCES)}")
    _use_local_stack()
    results = check_all(source or None)
    table = Table("source", "status", "detail", "what to do", show_lines=True)
    colour = {OK: "green", FAILED: "red"}
    for r in results:
        table.add_row(r.title, f"[{colour.get(r.status, 'yellow')}]{r.status}[/]",
                      redact_env(r.detail), redact_env(r.fix))  # fmt: skip
    Console(width=max(Console().width, 120)).print(table)
    if any(r.status == FAILED for r in results):
        raise typer.Exit(1)


@app.command()
def demo(
    seed: int = typer.Option(42, help="Seed of the simulated company"),
    scale: float = typer.Option(0.5, help="Size: 1 ≈ 10 000 leads and 100 000 calls"),
    rate_multiplier: float = typer.Option(10.0, help="Multiply the APIs' rate limits"),
    keep_running: bool = typer.Option(False, help="Leave the warehouse running afterwards."),
) -> None:
    """Run the whole pipeline on simulated sources and the embedded warehouse; print marts."""
    from funnelhouse.demo import demo as run_demo

    try:
        run_demo(get_settings(), seed, scale, rate_multiplier, keep_running)
    except RuntimeError as exc:  # DbtFailed, JobFailed, the warehouse not starting
        typer.secho(f"demo failed: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


@app.command()
def query(
    sql: str = typer.Argument(..., help="SQL to run on the configured warehouse"),
    fmt: Format = typer.Option(
        Format.table, "--format", "-f", help="table (for people), csv or json (for programs)"
    ),
) -> None:
    """Print a query's result from the configured warehouse."""
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from funnelhouse.demo import print_query
    from funnelhouse.output import write_rows
    from funnelhouse.warehouse.client import get_client

    try:
        if fmt is Format.table:
            print_query(get_settings(), sql)
            return
        client = get_client(get_settings())
        try:
            result = client.query(sql)
        finally:
            client.close()
    except ClickHouseError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
    write_rows(result.column_names, result.result_rows, fmt.value)


@app.command()
def status(
    stale_after: float = typer.Option(2.0, help="Hours after which a stream counts as stale"),
    database: str = typer.Option("raw", help="The raw database", hidden=True),
) -> None:
    """What the last syncs loaded: per stream rows in raw, cursor, last load and its age."""
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from funnelhouse.output import print_status
    from funnelhouse.warehouse.client import get_client

    try:
        client = get_client(get_settings())
    except ClickHouseError as exc:  # clickhouse-connect pings on connect
        typer.secho(f"{exc}\nNext: start the warehouse (`make up`) or set CLICKHOUSE_*.",
                    fg="red", err=True)  # fmt: skip
        raise typer.Exit(1) from None
    try:
        print_status(client, database, stale_after * 3600)
    finally:
        client.close()


@app.command()
def run(
    job: str = typer.Option("incremental", help="incremental or full_refresh"),
    select: str = typer.Option(
        None,
        help="Only these assets of the job: a source (its ingest assets and everything "
        "downstream) or a Dagster selection, e.g. 'key:\"raw/uis__calls\"', group:raw_uis+",
    ),
    since: str = typer.Option(
        None,
        metavar="YYYY-MM-DD",
        help="Backfill: ingest re-reads what changed since 00:00 UTC "
        "of that day, whatever the cursors say (they never move back)",
    ),
) -> None:
    """Run a pipeline job once against the configured warehouse and sources (sources not set
    in the environment come from the emulators of `make up`, while it runs)."""
    from funnelhouse.ingest.sync import parse_since
    from funnelhouse.orchestration.run import JobFailed, run_job

    if since:
        try:
            parse_since(since)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    from funnelhouse.progress import StepDisplay, redirect_output, step_logs, terminal_console

    settings = get_settings()
    _use_local_stack()
    log = settings.data_dir / "logs" / f"run-{job}.log"
    typer.echo(f"log of this process (dbt parse, Dagster, GX): {log}", err=True)
    try:
        with redirect_output(log) as terminal:
            display = StepDisplay(terminal_console(terminal))
            with display, display.heartbeats(), display.phase(f"job {job}"):
                result = run_job(job, settings, select=select, since=since, display=display)
    except JobFailed as exc:
        typer.secho(f"{exc}\nThe log of this process: {log}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"job {job} succeeded (run {result.run_id}):")
    for line in display.summary():
        typer.echo(line)
    typer.echo(f"dbt's log and each step's output: {step_logs(result.run_id)}")


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
