"""`python -m compat run`: install each suite's tools, start a fresh endpoint, run, report.

Each suite runs in a private network namespace when the system allows one (`unshare -rn`):
its endpoint takes 127.0.0.1:8123 (the JS client's test helpers name that address) whatever
else listens there, and nothing in the run reaches beyond loopback."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from compat.endpoint import embedded_endpoint
from compat.junit import read_outcomes
from compat.known_gaps import load_gaps, load_left_out
from compat.report import SuiteResult, summarise, write_reports
from compat.settings import CHECKOUT_VARS, DEFAULT_PORT, REPO_ROOT, get_settings
from compat.suites import SUITES, ensure_tools

app = typer.Typer(add_completion=False, help=__doc__)


@app.callback()
def main() -> None:
    """The upstream ClickHouse clients' test suites against the embedded endpoint."""


def _commit(checkout: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def _private_network_available() -> bool:
    if os.environ.get("FUNNELHOUSE_COMPAT_SHARED_NETWORK") or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    return probe.returncode == 0 and shutil.which("ip") is not None


@app.command()
def run(
    suite: Annotated[list[str] | None, typer.Option(help="Run only these suites")] = None,
    timeout: Annotated[int, typer.Option(help="Seconds one suite may take")] = 3600,
) -> None:
    """Run the suites whose checkouts FUNNELHOUSE_COMPAT_* name, a fresh endpoint each."""
    settings = get_settings()
    load_gaps(), load_left_out()  # a malformed list fails before an hour of tests, not after
    unknown = sorted(set(suite or ()) - set(SUITES))
    if unknown:
        raise typer.BadParameter(f"unknown suite(s) {unknown}; expected some of {list(SUITES)}")
    names = suite or [n for n in SUITES if settings.checkouts[n]]
    missing = [f"{CHECKOUT_VARS[n]} (checkout of {n})" for n in names if not settings.checkouts[n]]
    if missing or not names:
        wanted = missing or [f"{var} (checkout of {n})" for n, var in CHECKOUT_VARS.items()]
        typer.echo("Set " + ", ".join(wanted) + "; the README says how to clone them.", err=True)
        raise typer.Exit(2)
    private = _private_network_available()
    results: list[SuiteResult] = []
    for name in names:
        checkout = settings.checkouts[name]
        assert checkout is not None
        if not checkout.is_dir():
            raise typer.BadParameter(f"{CHECKOUT_VARS[name]}={checkout} is not a directory")
        ensure_tools(SUITES[name], checkout, settings.workdir / f"tools-{name}")
        one = [sys.executable, "-m", "compat", "suite", name, "--timeout", str(timeout)]
        if private:
            one = ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *one]
        typer.echo(f"== {name} @ {_commit(checkout)[:10]}" + (" (private network)" * private))
        subprocess.run(one, cwd=REPO_ROOT, check=True)
        saved = json.loads((settings.workdir / "runs" / name / "result.json").read_text())
        results.append(SuiteResult(**saved))
        write_reports(results, settings.workdir)
    report = write_reports(results, settings.workdir)
    typer.echo(report.read_text())
    typer.echo(f"Results: {report} and {settings.workdir / 'results.json'}")


@app.command("suite")
def run_one(
    name: str,
    timeout: Annotated[int, typer.Option(help="Seconds the suite may take")] = 3600,
) -> None:
    """Run one suite (its tools installed) against a fresh endpoint; `run` calls this."""
    settings = get_settings()
    checkout = settings.checkouts[name]
    if checkout is None:
        raise typer.BadParameter(f"set {CHECKOUT_VARS[name]} to a checkout of {name}")
    spec = SUITES[name]
    commit = _commit(checkout)
    run_dir = settings.workdir / "runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    junit = run_dir / "junit.xml"
    result = SuiteResult(name, commit, None)
    if name == "clickhouse-js" and settings.port != DEFAULT_PORT:
        result.note = f"not run: its test helpers connect to 127.0.0.1:{DEFAULT_PORT}"
    else:
        typer.echo(f"   output in {run_dir / 'output.log'}")
        tool_dir = settings.workdir / f"tools-{name}"
        with (
            embedded_endpoint(run_dir / "warehouse", settings.port),
            (run_dir / "output.log").open("wb") as log,
        ):
            try:
                ignored = [f"--ignore={e.path}" for e in load_left_out() if e.suite == name]
                proc = subprocess.run(
                    spec.command(checkout, tool_dir, junit) + ignored,
                    cwd=spec.cwd(checkout),
                    env=os.environ | spec.env(settings.port),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                )
                exit_code: int | None = proc.returncode
            except subprocess.TimeoutExpired:
                exit_code = None
        if junit.exists():
            result = summarise(name, commit, exit_code, read_outcomes(junit), load_gaps())
            if exit_code is None:
                result.note = f"stopped after {timeout} s"
        else:
            result.exit_code = exit_code
            result.note = f"no results written; see {run_dir / 'output.log'}"
    (run_dir / "result.json").write_text(json.dumps(dataclasses.asdict(result), indent=2))
