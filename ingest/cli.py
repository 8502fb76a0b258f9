"""`funnelhouse ingest`: sync source streams into raw from the command line, with progress
(a live view on a terminal, a plain line per stream otherwise: `funnelhouse.progress`)."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.table import Table

from funnelhouse.ingest.http import SourceError, SourceFatal
from funnelhouse.ingest.raw import RawStore
from funnelhouse.ingest.secrets import redact_env, redact_logs
from funnelhouse.ingest.sources import SOURCES, SourceSession
from funnelhouse.ingest.sync import parse_since
from funnelhouse.progress import StepDisplay, StepOutcome
from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.settings import get_settings

app = typer.Typer(help="Sync source streams into the raw layer.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("run")
def run(
    source: list[str] = typer.Option(None, "--source", "-s", help="Sources (default: all)"),
    stream: list[str] = typer.Option(None, "--stream", help="Streams of those sources"),
    full_refresh: bool = typer.Option(False, help="Ignore cursors and re-read everything"),
    since: str = typer.Option(
        None,
        metavar="YYYY-MM-DD",
        help="Backfill: re-read what changed since 00:00 UTC of that day, whatever the cursors "
        "say (cursors never move back). 1C compares every object's version on each run anyway.",
    ),
) -> None:
    """Sync streams; a failure leaves earlier data and cursors intact and exits non-zero."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    redact_logs()
    chosen = source or list(SOURCES)
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown:
        raise typer.BadParameter(f"unknown source {unknown}; known: {', '.join(SOURCES)}")
    try:
        since_ts = parse_since(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = get_settings()
    client = get_client(settings)
    session = SourceSession(RawStore(client, settings.cluster))
    summary = Table("stream", "rows", "pages", "requests", "retries", "cursor", "seconds")
    failed = False
    display = StepDisplay(console)
    with display, display.heartbeats():
        for name in chosen:
            src = SOURCES[name]
            for stream_name in stream or list(src.streams):
                if stream_name not in src.streams:
                    continue
                key = f"{name}/{stream_name}"
                if name in session.fatal:  # said once; no request for the other streams
                    summary.add_row(key, "-", "-", "-", "-", "not attempted", "")
                    continue
                display.step_started(key)

                def tick(_s, pages, rows, key=key):
                    display.step_advanced(key, pages, rows)

                try:
                    r = session.sync(name, stream_name, full_refresh=full_refresh,
                                     on_progress=tick, since=since_ts)  # fmt: skip
                except SourceFatal as exc:
                    display.step_finished(key, _failed(display, key, f"{src.title} failed"))
                    console.print(f"{src.title}: {redact_env(exc.reason)}\n"
                                  f"Next: {redact_env(exc.fix)}; its other streams were "
                                  "not attempted.", style="red", markup=False)  # fmt: skip
                    failed = True
                    continue
                except (SourceError, ValueError) as exc:
                    display.step_finished(key, _failed(display, key, ""))
                    console.print(redact_env(str(exc)), style="red", markup=False)
                    failed = True
                    continue
                display.step_finished(key, StepOutcome(key, r.seconds, True, r.rows, r.pages))
                summary.add_row(
                    r.stream.key, str(r.rows), str(r.pages), str(r.http.get("requests", "")),
                    str(r.http.get("retries", "")), f"{r.cursor_before} → {r.cursor_after}",
                    f"{r.seconds:.1f}",
                )  # fmt: skip
    client.close()
    console.print(summary)
    if failed:
        raise typer.Exit(1)


def _failed(display: StepDisplay, key: str, detail: str) -> StepOutcome:
    state = display.running.get(key)
    seconds = display.clock() - state.started if state else 0.0
    return StepOutcome(key, seconds, ok=False, detail=detail)
