"""`make up` / `make down`: the whole local stack in the background, and stopping it.

Three parts, started in this order and stopped in the reverse one:

* the embedded warehouse (`funnelhouse warehouse serve`, see warehouse/embedded/process.py);
* the four source emulators of a simulated company (`python -m funnelhouse.stack sources`),
  on fixed ports (amoCRM, Bitrix24, UIS, 1C from `sources_port` on; 0 = free ports);
* `dagster dev` on the project's code location, with the warehouse and the emulators in its
  environment, so that a job launched from the UI or a schedule loads the emulated sources.

Each background process leads its own process group; its pid is in <data_dir>/run/<part>.pid,
what `up` needs to know about it in <data_dir>/run/<part>.json, and its output goes to
<data_dir>/logs/<part>.log. The emulators' credentials are secrets: they reach Dagster only
through <data_dir>/run/sources.env.json (mode 0600) and are never printed or logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import typer

from funnelhouse.warehouse.settings import REPO_ROOT, WarehouseSettings

CODE_LOCATION = "funnelhouse.orchestration.definitions"
SOURCE_TITLES = {"amocrm": "amoCRM", "bitrix24": "Bitrix24", "uis": "UIS", "onec": "1C"}
SECRET_MARKERS = ("TOKEN", "PASSWORD", "WEBHOOK")

Echo = Callable[[str], None]


@dataclass(frozen=True)
class StackOptions:
    dagster_host: str = "127.0.0.1"
    dagster_port: int = 3000
    sources_port: int = 18100  # amoCRM; Bitrix24, UIS and 1C take the next three
    seed: int = 42
    scale: float = 0.5
    rate_multiplier: float = 10.0
    timeout: float = 300.0  # per part; loading the code location alone takes ~30 s


class StackError(RuntimeError):
    """A part did not come up: what happened, the tail of its log and what to do next."""

    def __init__(self, message: str, log: Path | None = None, tail: str = "", hint: str = ""):
        super().__init__(message)
        self.log, self.tail, self.hint = log, tail, hint


# -- files ---------------------------------------------------------------------------------
def run_dir(settings: WarehouseSettings) -> Path:
    return settings.data_dir / "run"


def log_file(settings: WarehouseSettings, part: str) -> Path:
    return settings.data_dir / "logs" / f"{part}.log"


def _pid_file(settings: WarehouseSettings, part: str) -> Path:
    return run_dir(settings) / f"{part}.pid"


def _state_file(settings: WarehouseSettings, part: str) -> Path:
    return run_dir(settings) / f"{part}.json"


def _env_file(settings: WarehouseSettings) -> Path:
    return run_dir(settings) / "sources.env.json"


def _write_json(path: Path, data: dict, private: bool = False) -> None:
    """Write atomically; `private` files are readable by their owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    tmp.replace(path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _secrets(env: dict[str, str]) -> tuple[str, ...]:
    """Every spelling (raw, percent-encoded, base64 Basic auth, URL userinfo) of the secret
    values among the emulators' variables, the Bitrix24 webhook's code included."""
    from funnelhouse.ingest.secrets import env_secrets, spellings

    values = [v for k, v in env.items() if any(m in k for m in SECRET_MARKERS) and v]
    found = env_secrets(env) | {f for v in values for f in spellings(v)}
    return tuple(sorted(found, key=len, reverse=True))


def _tail(path: Path, offset: int = 0, size: int = 3000, secrets: tuple[str, ...] = ()) -> str:
    """The end of what was written to `path` since `offset`, with known secrets (those given
    and the environment's) and any URL credentials or auth headers masked."""
    from funnelhouse.ingest.secrets import Redactor, env_secrets

    try:
        with path.open("rb") as f:
            f.seek(max(offset, path.stat().st_size - size))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return Redactor((*secrets, *env_secrets()))(text).strip()


# -- processes -----------------------------------------------------------------------------
MARKER = b"funnelhouse"  # in the command line of every process `up` starts, and of Dagster's


def _reap(pid: int) -> None:
    """Collect our own exited child, which would otherwise linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _members(pgid: int) -> list[Path]:
    """/proc entries of the live (non-zombie) processes of a process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                state, _ppid, group = stat[stat.rindex(")") + 2 :].split()[:3]
                if int(group) == pgid and state != "Z":
                    found.append(entry)
    return found


def _group_alive(pgid: int) -> bool:
    """Is any process of the group left?"""
    _reap(pgid)
    if Path("/proc/self").exists():
        return bool(_members(pgid))
    try:  # no /proc (macOS): ask the kernel, which also counts zombies
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _is_ours(pgid: int) -> bool:
    """Is the process group `up` recorded still there, and still ours (pids get reused)?"""
    _reap(pgid)
    if not Path("/proc/self").exists():
        return _group_alive(pgid)
    for entry in _members(pgid):
        with contextlib.suppress(OSError):
            if MARKER in (entry / "cmdline").read_bytes():
                return True
    return False


def _stop_group(pgid: int, wait_seconds: float) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after `wait_seconds`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 10
            while _group_alive(pgid) and time.monotonic() < kill_deadline:
                time.sleep(0.1)
            return
        time.sleep(0.2)


def _spawn(cmd: list[str], log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """Start `cmd` detached in its own session, appending to `log`; returns it and the offset."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        offset = out.tell()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=REPO_ROOT, start_new_session=True,
        )  # fmt: skip
    return proc, offset


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait(
    ready: Callable[[], bool], proc: subprocess.Popen | None, pid: int, seconds: float
) -> str | None:
    """Poll `ready` until it holds; the reason why not otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        if ready():
            return None
        if proc is not None and proc.poll() is not None:
            return f"exited with code {proc.returncode}"
        if proc is None and not _is_ours(pid):
            return "exited"
        if time.monotonic() > deadline:
            return f"did not answer within {seconds:.0f} s"
        time.sleep(0.5)


# -- the source emulators ------------------------------------------------------------------
def _sources_ready(state: dict | None) -> bool:
    if not state:
        return False
    try:
        return all(
            requests.get(f"{root}/__admin/health", timeout=2).status_code == 200
            for root in state["roots"].values()
        )
    except requests.RequestException:
        return False


def sources_env(settings: WarehouseSettings) -> dict[str, str]:
    """The AMOCRM_*, BITRIX24_*, UIS_*, ONEC_* variables of the running emulators (secret)."""
    return _read_json(_env_file(settings)) or {}


def running_sources_env(settings: WarehouseSettings) -> dict[str, str]:
    """`sources_env` while the stack's emulators answer, else nothing (a stale file from a
    stack that died must not point a run at dead ports)."""
    from funnelhouse.ingest.settings import scaled_rates

    state = _read_json(_state_file(settings, "sources"))
    if not (state and _sources_ready(state)):
        return {}
    # The clients' own rates, multiplied like the emulators' limits (as `dagster dev` gets).
    return {**scaled_rates(float(state["rate_multiplier"])), **sources_env(settings)}


def _describe_sources(state: dict) -> str:
    urls = state["urls"]
    return ", ".join(f"{SOURCE_TITLES[n]} {urls[n]}" for n in SOURCE_TITLES) + (
        f" (seed {state['seed']}, scale {state['scale']:g}, rate limits × "
        f"{state['rate_multiplier']:g})"
    )


def _start_sources(settings: WarehouseSettings, opts: StackOptions, echo: Echo) -> dict:
    pid_file, state_file = _pid_file(settings, "sources"), _state_file(settings, "sources")
    pid = _read_pid(pid_file)
    if pid and _is_ours(pid):
        if _wait(lambda: _sources_ready(_read_json(state_file)), None, pid, opts.timeout):
            raise StackError(
                f"the source emulators (pid {pid}) are running but do not answer",
                log_file(settings, "sources"), _tail(log_file(settings, "sources")),
                "`make down` stops them, then `make up` again.",
            )  # fmt: skip
        state = _read_json(state_file) or {}
        echo(f"sources    already running: {_describe_sources(state)}")
        return state
    for stale in (pid_file, state_file, _env_file(settings)):
        stale.unlink(missing_ok=True)
    log = log_file(settings, "sources")
    proc, offset = _spawn(
        [sys.executable, "-m", "funnelhouse.stack", "sources",
         "--port", str(opts.sources_port), "--seed", str(opts.seed),
         "--scale", str(opts.scale), "--rate-multiplier", str(opts.rate_multiplier),
         "--run-dir", str(run_dir(settings))],
        log, dict(os.environ),
    )  # fmt: skip
    pid_file.write_text(str(proc.pid))
    why = _wait(lambda: _sources_ready(_read_json(state_file)), proc, proc.pid, opts.timeout)
    if why:
        tail = _tail(log, offset, secrets=_secrets(sources_env(settings)))
        _stop_group(proc.pid, 10)
        pid_file.unlink(missing_ok=True)
        raise StackError(
            f"the source emulators {why}", log, tail,
            "fix what the log says, then `make up` again.",
        )  # fmt: skip
    state = _read_json(state_file) or {}
    echo(f"sources    started: {_describe_sources(state)}")
    return state


def _serve_sources(
    port: int, seed: int, scale: float, rate_multiplier: float, run_dir: Path
) -> None:
    """The emulators in the foreground until SIGTERM; secrets go to a private file only."""
    import threading

    from funnelhouse.simulator.company import generate
    from funnelhouse.simulator.config import SimConfig
    from funnelhouse.simulator.emulators.server import NAMES, start_emulators

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    t0 = time.perf_counter()
    company = generate(SimConfig(seed=seed, scale=scale))
    ports = {n: port + i for i, n in enumerate(NAMES)} if port else None
    with start_emulators(company, rate_multiplier=rate_multiplier, ports=ports) as src:
        _write_json(run_dir / "sources.env.json", src.env(), private=True)
        roots = {n: src.root(n) for n in NAMES}
        urls = {"amocrm": src.amocrm_url, "bitrix24": src.root("bitrix24"),
                "uis": src.uis_url, "onec": src.onec_url}  # fmt: skip
        _write_json(run_dir / "sources.json",
                    {"pid": os.getpid(), "roots": roots, "urls": urls, "seed": seed,
                     "scale": scale, "rate_multiplier": rate_multiplier})  # fmt: skip
        clock = src.world.clock_info()
        print(f"simulated company seed={seed} scale={scale:g} ready in "
              f"{time.perf_counter() - t0:.1f} s; clock {clock['now']}", flush=True)  # fmt: skip
        for n in NAMES:
            print(f"{n:9s} {urls[n]}", flush=True)
        stop.wait()
        print("stopping emulators", flush=True)


# -- Dagster -------------------------------------------------------------------------------
def _graphql(url: str, query: str, timeout: float = 10) -> dict:
    resp = requests.post(f"{url}/graphql", json={"query": query}, timeout=timeout)
    resp.raise_for_status()
    return resp.json()


WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def dagster_status(url: str) -> tuple[str, str]:
    """("loaded" | "loading" | "error" | "down", detail) of the webserver's code location."""
    try:
        if requests.get(f"{url}/server_info", timeout=2).status_code != 200:
            return "down", ""
        entries = _graphql(url, WORKSPACE_QUERY)["data"]["workspaceOrError"]["locationEntries"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return "down", ""
    errors = [
        f"{e['name']}: {e['locationOrLoadError']['message']}"
        for e in entries
        if (e.get("locationOrLoadError") or {}).get("__typename") == "PythonError"
    ]
    if errors:
        return "error", "\n".join(errors)
    if entries and all(e["loadStatus"] == "LOADED" for e in entries):
        return "loaded", ""
    return "loading", ""


def dagster_env(settings: WarehouseSettings, sources: dict[str, str], opts: StackOptions):
    """This environment, pointed at the warehouse and the emulators, with DAGSTER_HOME set."""
    from funnelhouse.ingest.settings import scaled_rates
    from funnelhouse.orchestration.instance import dagster_home

    env = dict(os.environ)
    # The clients' own rates, multiplied like the emulators' limits (as `make demo` does).
    for var, rate in scaled_rates(opts.rate_multiplier).items():
        env.setdefault(var, rate)
    env.update(sources)
    # `dagster dev` warns on every start that `dg dev` supersedes it (dg is not installed).
    quiet = "ignore:Function `dev_command` is superseded"
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), quiet]))
    env.update(
        CLICKHOUSE_HOST=settings.host,
        CLICKHOUSE_PORT=str(settings.port),
        FUNNELHOUSE_DATA_DIR=str(settings.data_dir.resolve()),
        DAGSTER_HOME=str(dagster_home(settings).resolve()),
    )
    return env


def _wait_for_dagster(
    url: str, proc: subprocess.Popen | None, pid: int, seconds: float
) -> str | None:
    """Wait until the webserver has loaded the code location; the reason why not otherwise."""
    failure: list[str] = []

    def loaded() -> bool:
        status, detail = dagster_status(url)
        if status == "error":
            failure.append(detail)
        return status in ("loaded", "error")

    why = _wait(loaded, proc, pid, seconds)
    if failure:
        return f"could not load the code location {CODE_LOCATION}:\n{failure[0]}"
    return why


def _start_dagster(
    settings: WarehouseSettings, opts: StackOptions, sources: dict[str, str], echo: Echo
) -> str:
    pid_file, state_file = _pid_file(settings, "dagster"), _state_file(settings, "dagster")
    log = log_file(settings, "dagster")
    secrets = _secrets(sources)
    pid = _read_pid(pid_file)
    if pid and _is_ours(pid):  # running, or still starting from another `up`
        url = (_read_json(state_file) or {}).get("url", "")
        why = _wait_for_dagster(url, None, pid, opts.timeout)
        if why:
            raise StackError(
                f"Dagster (pid {pid}, {url}) is running but {why}",
                log, _tail(log, secrets=secrets),
                "`make down`, fix what the log says, then `make up` again.",
            )  # fmt: skip
        echo(f"Dagster    already running: {url}")
        return url
    host, port = opts.dagster_host, opts.dagster_port
    url = f"http://{host}:{port}"
    for stale in (pid_file, state_file):
        stale.unlink(missing_ok=True)
    echo(f"Dagster    starting on {url} (loading the code location takes about half a minute)")
    proc, offset = _spawn(
        [sys.executable, "-m", "dagster", "dev", "-m", CODE_LOCATION,
         "--host", host, "--port", str(port)],
        log, dagster_env(settings, sources, opts),
    )  # fmt: skip
    pid_file.write_text(str(proc.pid))
    _write_json(state_file, {"pid": proc.pid, "url": url})
    why = _wait_for_dagster(url, proc, proc.pid, opts.timeout)
    if why:
        tail = _tail(log, offset, secrets=secrets)  # before the shutdown adds its own lines
        _stop_group(proc.pid, 30)
        for stale in (pid_file, state_file):
            stale.unlink(missing_ok=True)
        raise StackError(
            f"Dagster {why}", log, tail,
            "fix what the log says (`funnelhouse run` shows the same import errors), then "
            "`make up` again; the warehouse and the sources keep running.",
        )  # fmt: skip
    echo(f"Dagster    started: {url}")
    return url


# -- the stack -----------------------------------------------------------------------------
def _check_ports(settings: WarehouseSettings, opts: StackOptions) -> None:
    """Fail before starting anything when a port that a part needs is someone else's."""

    def running(part: str) -> bool:
        pid = _read_pid(_pid_file(settings, part))
        return bool(pid and _is_ours(pid))

    if not running("dagster") and _port_in_use(opts.dagster_host, opts.dagster_port):
        raise StackError(
            f"port {opts.dagster_port} for Dagster is taken by another process",
            hint="stop it, or pass --dagster-port (or set FUNNELHOUSE_DAGSTER_PORT).",
        )
    if opts.sources_port and not running("sources"):
        ports = range(opts.sources_port, opts.sources_port + len(SOURCE_TITLES))
        busy = [str(p) for p in ports if _port_in_use("127.0.0.1", p)]
        if busy:
            raise StackError(
                f"port(s) {', '.join(busy)} for the source emulators are taken by another process",
                hint="free them, or pass --sources-port (or set FUNNELHOUSE_SOURCES_PORT) to "
                "another first port; 0 picks free ports.",
            )


@dataclass
class Stack:
    dagster_url: str
    warehouse_url: str
    source_urls: dict[str, str]


def up(settings: WarehouseSettings, opts: StackOptions, echo: Echo = print) -> Stack:
    """Start whatever is not running yet and wait until every part answers."""
    from funnelhouse.warehouse.embedded import process

    run_dir(settings).mkdir(parents=True, exist_ok=True)
    _check_ports(settings, opts)
    if settings.is_embedded_default:
        try:
            pid = process.start_background(settings, wait_seconds=opts.timeout)
        except RuntimeError as exc:
            raise StackError(
                str(exc).split("; last lines")[0], process.log_file(settings),
                _tail(process.log_file(settings)),
                "fix what the log says (is the port taken? set CLICKHOUSE_PORT), then "
                "`make up` again.",
            ) from None  # fmt: skip
        echo(f"warehouse  {'started' if pid else 'already running'}: {settings.http_url}")
    elif process.ping(settings.http_url):
        echo(f"warehouse  {settings.http_url} (not embedded: not started here)")
    else:
        raise StackError(
            f"the warehouse at {settings.http_url} does not answer",
            hint="start it, or unset CLICKHOUSE_HOST to use the embedded one.",
        )
    state = _start_sources(settings, opts, echo)
    url = _start_dagster(settings, opts, sources_env(settings), echo)
    return Stack(url, settings.http_url, state.get("urls", {}))


def down(settings: WarehouseSettings, wait_seconds: float = 30.0) -> Iterator[str]:
    """Stop Superset, Dagster, the sources and the warehouse; yields one line per part."""
    from funnelhouse.warehouse.embedded import process

    # Superset is started by `make bi` (bi/launch.py) with the same pid and state files.
    for part, title in (("superset", "Superset"), ("dagster", "Dagster"), ("sources", "sources")):
        pid_file = _pid_file(settings, part)
        pid = _read_pid(pid_file)
        if part == "superset" and not pid:
            continue  # never started by `make bi`: nothing to say
        if pid and _is_ours(pid):
            _stop_group(pid, wait_seconds)
            yield f"{title:10s} stopped (process group {pid})"
        elif pid:
            yield f"{title:10s} was not running (stale pid file removed)"
        else:
            yield f"{title:10s} was not running"
        for stale in (pid_file, _state_file(settings, part)):
            stale.unlink(missing_ok=True)
    _env_file(settings).unlink(missing_ok=True)
    stopped = process.stop_background(settings, wait_seconds)
    yield f"{'warehouse':10s} {'stopped' if stopped else 'was not running'}"


# -- `python -m funnelhouse.stack sources`: the emulators' background process ---------------
_app = typer.Typer(add_completion=False, no_args_is_help=True)


@_app.callback()
def _main() -> None:
    """Internal entry points of `funnelhouse up`."""


@_app.command("sources")
def _sources_cmd(
    port: int = typer.Option(...),
    seed: int = typer.Option(...),
    scale: float = typer.Option(...),
    rate_multiplier: float = typer.Option(...),
    run_dir: Path = typer.Option(...),
) -> None:
    _serve_sources(port, seed, scale, rate_multiplier, run_dir)


if __name__ == "__main__":
    _app()
