"""`funnelhouse sources ...`: the simulated company and its source API emulators."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Simulated company and local emulators of the source APIs.", no_args_is_help=True
)
