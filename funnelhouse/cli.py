"""The `funnelhouse` command line: one entry point for the warehouse, sources and pipeline."""

from __future__ import annotations

import typer

from funnelhouse.simulator.cli import app as sources_app
from funnelhouse.warehouse.cli import app as warehouse_app

app = typer.Typer(
    help="funnelhouse: batch ELT for sales and contact-centre analytics on ClickHouse.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(sources_app, name="sources")


if __name__ == "__main__":
    app()
