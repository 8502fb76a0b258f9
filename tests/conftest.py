"""Shared fixtures: a warehouse for the whole test session.

By default each test session starts its own embedded endpoint on a free port with a throwaway
data directory. With CLICKHOUSE_HOST set in the environment, the same tests run against that
server instead (tests that need the embedded endpoint's own files are skipped there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from funnelhouse.warehouse.embedded.process import ping
from funnelhouse.warehouse.settings import WarehouseSettings

EXTERNAL = bool(os.environ.get("CLICKHOUSE_HOST"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EmbeddedServer:
    """A `funnelhouse warehouse serve` subprocess that tests may stop and restart."""

    data_dir: Path
    port: int
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        log = (self.data_dir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "funnelhouse.cli", "warehouse", "serve",
             "--port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not ping(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.data_dir / "server.log").read_text()[-3000:])
            time.sleep(0.1)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        code = self.proc.wait(timeout=60)
        self.proc = None
        return code

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def server_with_users(tmp_path_factory, extra_users: str, name: str) -> Iterator[EmbeddedServer]:
    """An endpoint of its own whose users file is the default one plus `extra_users` (TOML)."""
    from funnelhouse.warehouse.embedded.users import DEFAULT_USERS_FILE

    users = tmp_path_factory.mktemp("users") / "users.toml"
    users.write_text(DEFAULT_USERS_FILE.read_text() + extra_users)
    server = EmbeddedServer(tmp_path_factory.mktemp(name), free_port())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUNNELHOUSE_USERS_FILE", str(users))
        server.start()
    try:
        yield server
    finally:
        server.stop()


SESSION_PORT = 0  # the embedded endpoint's port, chosen before anything parses the dbt project


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point CLICKHOUSE_HOST/PORT at the session's endpoint before any conftest parses the dbt
    project: dbt keys its partial parse on the profile's host and port, so a manifest parsed
    for the default port would make every dbt step of every test parse the project again.

    Under pytest-xdist each worker is a session of its own (its endpoint, its dbt target
    folder); the controller, which runs no test, sets nothing its workers would inherit."""
    global SESSION_PORT
    if EXTERNAL:
        # One server for every worker: tests reset its pipeline databases, so run them in turn.
        config.option.numprocesses, config.option.dist, config.option.tx = 0, "no", []
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if getattr(config.option, "numprocesses", None) and worker is None:
        return
    SESSION_PORT = free_port()
    os.environ["CLICKHOUSE_HOST"] = "127.0.0.1"
    os.environ["CLICKHOUSE_PORT"] = str(SESSION_PORT)
    if worker is not None:
        os.environ["DBT_TARGET_PATH"] = f"target/{worker}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a slow test first: each worker runs whole files, taken in this order (the
    pyproject turns off xdist's reorder by test count, which left the few-test, minutes-long
    pipeline files for last, one worker still busy with them while the other sat idle)."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture
def fresh_forkserver() -> Iterator[None]:
    """For a test that runs a multiprocess job in the test process. Its step processes fork
    from multiprocessing's forkserver, one per process, which keeps the environment of the
    moment it started: without a fresh one, the steps would see whichever test's sources and
    tokens started it first (as xdist reorders modules, that differs from run to run)."""
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # "used by unit tests to stop the server" (CPython)
    yield
    forkserver._forkserver._stop()


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory) -> Iterator[EmbeddedServer | None]:
    if EXTERNAL:
        yield None
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("warehouse"), SESSION_PORT)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def warehouse(embedded_server) -> WarehouseSettings:
    """Settings for the warehouse under test (the embedded one, or CLICKHOUSE_HOST)."""
    if embedded_server is None:
        return WarehouseSettings()
    return WarehouseSettings(
        host="127.0.0.1", port=embedded_server.port, data_dir=embedded_server.data_dir
    )


@pytest.fixture
def embedded_only(embedded_server) -> EmbeddedServer:
    if embedded_server is None:
        pytest.skip("needs the embedded endpoint (CLICKHOUSE_HOST points at another server)")
    return embedded_server


def use_emulators(mp: pytest.MonkeyPatch, sources, warehouse: WarehouseSettings | None) -> None:
    """Point the connectors (and, given `warehouse`, dbt and Dagster) at `sources` and at
    `warehouse`, with the clients paced like the emulators' multiplied limits."""
    from funnelhouse.ingest.settings import scaled_rates

    env = {**sources.env(), **scaled_rates(sources.rate_multiplier)}
    if warehouse is not None:
        env |= {"CLICKHOUSE_HOST": warehouse.host, "CLICKHOUSE_PORT": str(warehouse.port)}
    for key, value in env.items():
        mp.setenv(key, value)
