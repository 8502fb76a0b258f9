"""`funnelhouse sources ...`: the simulated company and its source API emulators."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import typer

app = typer.Typer(
    help="Simulated company and local emulators of the source APIs.", no_args_is_help=True
)

SEED = typer.Option(42, help="Random seed: the same seed gives byte-identical data.")
SCALE = typer.Option(1.0, help="Company size: 1 ≈ 10k leads and 100k calls in two years.")


def _config(seed: int, scale: float):
    from funnelhouse.simulator.config import SimConfig

    return SimConfig(seed=seed, scale=scale)


@app.command()
def serve(
    seed: int = SEED,
    scale: float = SCALE,
    faults: str = typer.Option(
        "", help="e.g. 429_storm:count=5,slow:delay=0.2 (amocrm.x targets one)"
    ),
    rate_multiplier: float = typer.Option(
        1.0, help="Scale every documented rate limit (1 = as documented)."
    ),
    now: str = typer.Option(
        "", help="Start the clock here (ISO, business time zone); default: 14 days before the end."
    ),
    port: int = typer.Option(
        0, help="First port (amoCRM; Bitrix24, UIS, 1C take the next three); 0 = free ports."
    ),
    threads: int = typer.Option(4, help="Worker threads per emulator."),
    seconds: float = typer.Option(
        0, help="Stop after this many seconds (0 = until Ctrl-C / SIGTERM)."
    ),
) -> None:
    """Start the amoCRM, Bitrix24, UIS and 1C emulators on loopback; print URLs and tokens."""
    from funnelhouse.simulator.company import generate
    from funnelhouse.simulator.emulators.server import NAMES, start_emulators

    t0 = time.perf_counter()
    company = generate(_config(seed, scale))
    ports = {n: port + i for i, n in enumerate(NAMES)} if port else None
    stop = threading.Event()
    with start_emulators(
        company,
        faults=faults or None,
        rate_multiplier=rate_multiplier,
        now=now or None,
        ports=ports,
        threads=threads,
    ) as src:
        info = src.describe()
        typer.echo(
            f"simulated company seed={seed} scale={scale:g} generated in "
            f"{company.generation_seconds:.1f}s ({time.perf_counter() - t0:.1f}s to start)"
        )
        typer.echo(
            f"clock: {info['clock']['now']} (history {info['clock']['history_start']} .. "
            f"{info['clock']['history_end']}); move it with POST <base>/__admin/clock"
        )
        for name in NAMES:
            typer.echo(f"{name:9s} " + "  ".join(f"{k}={v}" for k, v in info[name].items()))
        typer.echo("# environment for the ingest connectors:")
        for k, v in src.env().items():
            typer.echo(f"export {k}='{v}'")
        if faults:
            typer.echo(f"faults: {faults}")
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait(seconds if seconds > 0 else None)
        typer.echo("stopping emulators")


@app.command()
def generate(
    seed: int = SEED, scale: list[float] = typer.Option([1.0], help="One or more scales.")
) -> None:
    """Generate the company and print record counts and the time it took."""
    from funnelhouse.simulator.company import generate as gen

    for s in scale:
        c = gen(_config(seed, s))
        typer.echo(
            json.dumps(
                {
                    "seed": seed,
                    "scale": s,
                    "seconds": round(c.generation_seconds, 2),
                    "counts": c.counts(),
                },
                ensure_ascii=False,
            )
        )


@app.command("export")
def export_cmd(
    out: Path = typer.Option(..., help="Output directory."),
    seed: int = SEED,
    scale: float = SCALE,
    format: str = typer.Option("jsonl,parquet", help="jsonl and/or parquet"),
    now: str = typer.Option("", help="Clock for the export (default: the initial clock)."),
    truth: bool = typer.Option(True, help="Also write the ground truth under <out>/truth."),
) -> None:
    """Write every stream as the APIs return it (and the ground truth) to files."""
    from funnelhouse.simulator import truth as ground
    from funnelhouse.simulator.company import generate as gen
    from funnelhouse.simulator.export import export

    company = gen(_config(seed, scale))
    t0 = time.perf_counter()
    manifest = export(company, out, tuple(format.split(",")), now or None)
    if truth:
        ground.write_truth(company, out / "truth")
    typer.echo(
        f"exported {len(manifest['streams'])} streams in {time.perf_counter() - t0:.1f}s to {out}"
    )
    for name, entry in manifest["streams"].items():
        typer.echo(f"  {name:28s} {entry['records']:>9d}  sha256 {entry['sha256'][:16]}")


@app.command("truth")
def truth_cmd(
    out: Path = typer.Option(..., help="Output directory."),
    seed: int = SEED,
    scale: float = SCALE,
    format: str = typer.Option("parquet", help="parquet or csv"),
) -> None:
    """Write the ground truth: stage history, call→deal links, forgotten deals, missed calls."""
    from funnelhouse.simulator import truth as ground
    from funnelhouse.simulator.company import generate as gen

    for name, path in ground.write_truth(gen(_config(seed, scale)), out, format).items():
        typer.echo(f"{name}: {path}")
