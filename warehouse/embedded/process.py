"""Start and stop the embedded endpoint as a background process (`make up`, the demo)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from funnelhouse.warehouse.settings import WarehouseSettings


def ping(url: str, timeout: float = 1.0) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=timeout).text.strip() == "Ok."
    except requests.RequestException:
        return False


def _pid_file(settings: WarehouseSettings) -> Path:
    return settings.data_dir / "run" / "warehouse.pid"


def log_file(settings: WarehouseSettings) -> Path:
    return settings.data_dir / "logs" / "warehouse.log"


def start_background(settings: WarehouseSettings, wait_seconds: float = 60.0) -> int | None:
    """Start `warehouse serve` detached unless something already answers; returns its pid."""
    if ping(settings.http_url):
        return None
    for p in (_pid_file(settings), log_file(settings)):
        p.parent.mkdir(parents=True, exist_ok=True)
    with log_file(settings).open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "funnelhouse.cli", "warehouse", "serve",
             "--host", settings.host, "--port", str(settings.port),
             "--data-dir", str(settings.data_dir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    _pid_file(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file(settings).read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"the embedded warehouse exited with code {proc.returncode}; "
                f"last lines of {log_file(settings)}:\n{tail}"
            )
        if ping(settings.http_url):
            return proc.pid
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the embedded warehouse did not answer on {settings.http_url} in time")


def stop_background(settings: WarehouseSettings, wait_seconds: float = 30.0) -> bool:
    """SIGTERM the process `start_background` recorded and wait for its clean exit."""
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + wait_seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:  # our own child must be reaped, or it lingers as a zombie that still "exists"
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
