"""`make bi`: Superset on loopback, connected as `bi` to the warehouse, with our dashboards.

Superset lives in its own environment (.venv-bi, from bi/requirements.lock) because its
SQLAlchemy and pandas pins differ from the project's; this module runs in the project's venv
and drives it through subprocesses. Generated state lives in <data dir>/superset: the metadata
DB, the secret key and admin.json (the admin's generated password, mode 0600, never printed).
Superset runs like the parts of `make up` (funnelhouse/stack.py): its own process group, pid in
<data dir>/run/superset.pid, log in <data dir>/logs/superset.log, stopped by `make down`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import requests
import typer

from funnelhouse import stack
from funnelhouse.warehouse.embedded import process
from funnelhouse.warehouse.settings import REPO_ROOT, WarehouseSettings

BI_DIR = Path(__file__).resolve().parent
VENV_BIN = REPO_ROOT / ".venv-bi" / "bin"
PART = "superset"
ADMIN_USER = "admin"


def superset_home(settings: WarehouseSettings) -> Path:
    return settings.data_dir / "superset"


def _private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only (before any secret is written into it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _ensure_secrets(home: Path, url: str) -> Path:
    """The secret key and the admin's credentials, generated once; returns admin.json."""
    home.mkdir(parents=True, exist_ok=True)
    key = home / "secret_key"
    if not key.exists():
        _private(key, secrets.token_urlsafe(48))
    admin = home / "admin.json"
    creds = stack._read_json(admin) or {}
    if not creds.get("password"):
        creds = {"username": ADMIN_USER, "password": secrets.token_urlsafe(18)}
    creds["url"] = url
    _private(admin, json.dumps(creds, indent=2))
    return admin


def superset_env(settings: WarehouseSettings, bi_password: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SUPERSET_CONFIG_PATH=str(BI_DIR / "superset_config.py"),
        FUNNELHOUSE_SUPERSET_HOME=str(superset_home(settings).resolve()),
        FUNNELHOUSE_BI_PASSWORD=bi_password,
        FLASK_APP="superset.app:create_app()",
        PYTHONWARNINGS="ignore",
    )
    return env


def _run(cmd: list[str], env: dict[str, str], log: Path, what: str) -> str:
    """Run a Superset command, its output appended to the log; fail with its tail."""
    result = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    with log.open("a") as f:
        f.write(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise stack.StackError(f"{what} failed (exit {result.returncode})", log, tail)
    return result.stdout


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).text.strip() == "OK"
    except requests.RequestException:
        return False


def _start_server(settings: WarehouseSettings, env: dict[str, str], host: str, port: int) -> str:
    """Start gunicorn (unless ours already runs) and wait for /health; returns the URL."""
    pid_file = stack._pid_file(settings, PART)
    log = stack.log_file(settings, PART)
    url = f"http://{host}:{port}"
    pid = stack._read_pid(pid_file)
    if pid and stack._is_ours(pid):
        url = (stack._read_json(stack._state_file(settings, PART)) or {}).get("url", url)
        if stack._wait(lambda: _ready(url), None, pid, 120):
            raise stack.StackError(f"Superset (pid {pid}) runs but {url} does not answer", log)
        return url
    if stack._port_in_use(host, port):
        raise stack.StackError(
            f"port {port} for Superset is taken by another process",
            hint="stop it, or set FUNNELHOUSE_SUPERSET_PORT.",
        )
    # --name puts the marker `make down` checks (funnelhouse) in every worker's command line.
    env = {k: v for k, v in env.items() if k != "FUNNELHOUSE_BI_PASSWORD"}  # setup's only
    pid_file.parent.mkdir(parents=True, exist_ok=True)  # a data dir `make up` never used
    proc, offset = stack._spawn(
        [str(VENV_BIN / "gunicorn"), "--name", "funnelhouse-superset",
         "--bind", f"{host}:{port}", "--workers", "2", "--worker-class", "gthread",
         "--threads", "8", "--timeout", "120", "superset.app:create_app()"],
        log, env,
    )  # fmt: skip
    pid_file.write_text(str(proc.pid))
    stack._write_json(stack._state_file(settings, PART), {"pid": proc.pid, "url": url})
    why = stack._wait(lambda: _ready(url), proc, proc.pid, 180)
    if why:
        tail = stack._tail(log, offset)
        stack._stop_group(proc.pid, 10)
        pid_file.unlink(missing_ok=True)
        raise stack.StackError(f"Superset {why}", log, tail, "fix what the log says.")
    return url


def start(host: str, port: int, bi_password: str) -> tuple[str, Path]:
    """Everything `make bi` does; returns the URL and the admin credentials file."""
    from bi import bundle

    settings = WarehouseSettings()
    if settings.is_embedded_default:
        started = process.start_background(settings, wait_seconds=120)
        print(f"warehouse {'started' if started else 'running'}: {settings.http_url}")
    elif not process.ping(settings.http_url):
        raise stack.StackError(f"the warehouse at {settings.http_url} does not answer")
    home = superset_home(settings)
    url = f"http://{host}:{port}"
    admin = _ensure_secrets(home, url)
    env = superset_env(settings, bi_password)
    log = stack.log_file(settings, PART)
    log.parent.mkdir(parents=True, exist_ok=True)
    superset = str(VENV_BIN / "superset")
    probe = "from importlib.metadata import version; print(version('apache-superset'))"
    version = subprocess.run(
        [str(VENV_BIN / "python"), "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    stamp = home / "initialized"
    if not stamp.exists() or stamp.read_text() != version:
        print(f"Superset {version}: creating its metadata DB in {home} (once, about a minute)")
        _run([superset, "db", "upgrade"], env, log, "superset db upgrade")
        _run([superset, "init"], env, log, "superset init")
        stamp.write_text(version)
    zipped = bundle.write_zip(home / "dashboards.zip", settings.host, settings.port)
    out = _run(
        [str(VENV_BIN / "python"), str(BI_DIR / "superset_setup.py"), str(zipped),
         *bundle.database_files()],
        env, log, "importing the dashboards",
    )  # fmt: skip
    # Superset prints its own banner on stdout too; ours are the summary and the warnings.
    for line in out.splitlines():
        if line.startswith(("imported ", "warning: ")):
            print(line)
    return _start_server(settings, env, host, port), admin


def main(
    host: str = typer.Option("127.0.0.1", envvar="FUNNELHOUSE_SUPERSET_HOST"),
    port: int = typer.Option(8088, envvar="FUNNELHOUSE_SUPERSET_PORT"),
    bi_password: str = typer.Option(
        "funnelhouse_bi",
        envvar="FUNNELHOUSE_BI_PASSWORD",
        show_default=False,
        help="password of the warehouse's `bi` user",
    ),
) -> None:
    """Install-free part of `make bi`: start Superset and import the dashboards."""
    try:
        url, admin = start(host, port, bi_password)
    except stack.StackError as exc:
        print(f"make bi: {exc}", file=sys.stderr)
        if exc.log:
            print(f"log: {exc.log}\n{exc.tail}", file=sys.stderr)
        if exc.hint:
            print(exc.hint, file=sys.stderr)
        raise typer.Exit(1) from None
    print(f"Superset:  {url}  (log {stack.log_file(WarehouseSettings(), PART)})")
    print(f"login:     user and password in {admin} (mode 0600)")
    print("stop it:   make down")


if __name__ == "__main__":
    typer.run(main)
