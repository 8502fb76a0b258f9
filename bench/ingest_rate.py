"""Does a backfill use the request rate each API allows? (`python -m bench.ingest_rate`)

The emulators run with their documented limits (rate multiplier 1) on a scale-10 company.
Each source is backfilled on its own by `funnelhouse ingest run` in a child process for a
fixed window (or until done), then the child is killed; the emulator counts what it served.
Allowed requests in a window of `t` seconds: amoCRM 7/s; Bitrix24 a leaky bucket of 50
draining 2/s (50 + 2t); UIS 100 points a minute, one per request. 1C documents no limit: its
throughput is reported without a share.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

RESULTS = Path(__file__).resolve().parent / "results"
app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


# What each API documents (docs/SOURCE_APIS.md), which the emulators enforce at multiplier 1.
DOCUMENTED = {"amocrm": 7.0, "bitrix24": 2.0, "uis": 100 / 60}
BITRIX24_BUCKET = 50


def allowed(source: str, seconds: float) -> float | None:
    """Requests the API allows in `seconds`; None where it documents no limit (1C)."""
    if source == "bitrix24":
        return BITRIX24_BUCKET + DOCUMENTED["bitrix24"] * seconds
    rate = DOCUMENTED.get(source)
    return rate * seconds if rate else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@app.command()
def main(
    scale: float = 10,
    seed: int = 42,
    seconds: Annotated[float, typer.Option(help="measuring window per source")] = 60,
    source: Annotated[list[str] | None, typer.Option(help="sources (default: all)")] = None,
    work: Annotated[Path, typer.Option()] = Path(".data") / "bench" / "ingest_rate",
) -> None:
    from funnelhouse.simulator import SimConfig, generate
    from funnelhouse.simulator.emulators.server import start_emulators
    from funnelhouse.warehouse.embedded import process
    from funnelhouse.warehouse.settings import WarehouseSettings

    sources = source or ["amocrm", "bitrix24", "uis", "onec"]
    company = generate(SimConfig(seed=seed, scale=scale))
    wh = WarehouseSettings(port=_free_port(), data_dir=work.resolve())
    process.start_background(wh)
    rows: list[dict[str, Any]] = []
    try:
        with start_emulators(company, rate_multiplier=1) as src:
            env = {
                **os.environ,
                **src.env(),
                "CLICKHOUSE_HOST": wh.host,
                "CLICKHOUSE_PORT": str(wh.port),
                "FUNNELHOUSE_DATA_DIR": str(wh.data_dir),
            }
            for name in sources:
                src.reset()
                typer.echo(f"{name}: backfilling for up to {seconds:g} s ...")
                child = subprocess.Popen(
                    [sys.executable, "-m", "funnelhouse.cli", "ingest", "run", "--source", name,
                     "--full-refresh"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    start_new_session=True,
                )  # fmt: skip
                start = time.monotonic()
                try:
                    child.wait(timeout=seconds)
                    finished = True
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    finished = False
                window = time.monotonic() - start
                stats = src.stats()[name]
                served = stats["requests"]
                span = stats["seconds"] or window
                limit = allowed(name, span)
                rows.append({
                    "source": name,
                    "finished": finished,
                    "seconds": round(span, 1),
                    "requests": served,
                    # 429/503 and UIS's -32029 (an HTTP 200): the emulator marks each.
                    "throttled": stats["throttled"],
                    "requests_per_s": round(served / span, 2) if span else None,
                    "allowed_requests": round(limit) if limit else None,
                    "share_of_allowed": round(served / limit, 3) if limit else None,
                })  # fmt: skip
                typer.echo(f"  {json.dumps(rows[-1])}")
                if child.returncode not in (0, -signal.SIGKILL) and finished:
                    typer.echo(child.stderr.read().decode()[-2000:] if child.stderr else "")
    finally:
        process.stop_background(wh)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest_rate.json").write_text(
        json.dumps({"scale": scale, "seed": seed, "window_s": seconds, "sources": rows}, indent=2)
    )
    typer.echo("\n| source | window s | requests | throttled | req/s | allowed | share |")
    typer.echo("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        typer.echo(
            f"| {r['source']} | {r['seconds']} | {r['requests']} | {r['throttled']} "
            f"| {r['requests_per_s']} | {r['allowed_requests'] or 'no limit'} "
            f"| {f'{share:.1%}' if (share := r['share_of_allowed']) else 'n/a'} |"
        )


if __name__ == "__main__":
    app()
