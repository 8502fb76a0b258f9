"""`funnelhouse up` (what `make up` runs) brings up a Dagster webserver that lists every asset
and every asset check of the code location; `funnelhouse down` stops the whole stack.

The stack runs in a throwaway data directory on free ports, with a small simulated company.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from funnelhouse.orchestration.dbt_project import prepare_dbt_project
from funnelhouse.stack import running_sources_env
from funnelhouse.warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.slow

PARTS = ("warehouse", "sources", "dagster")
QUERY = """{ assetNodes { assetKey { path }
  assetChecksOrError { __typename ... on AssetChecks { checks { name } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "funnelhouse.cli", *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip


def _group_alive(pgid: int) -> bool:
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


@dataclass
class Stack:
    env: dict[str, str]
    data_dir: Path
    up: subprocess.CompletedProcess
    pids: dict[str, int]
    expected_assets: set[str]
    expected_checks: set[tuple[str, str]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['FUNNELHOUSE_DAGSTER_PORT']}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    env = {
        **os.environ,
        "FUNNELHOUSE_DATA_DIR": str(data_dir),
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_PORT": str(_free_port()),
        "FUNNELHOUSE_DAGSTER_PORT": str(_free_port()),
        "FUNNELHOUSE_SOURCES_PORT": "0",
        "COLUMNS": "200",
    }
    env.pop("DAGSTER_HOME", None)
    env.pop("CLICKHOUSE_PASSWORD", None)
    # Parse the dbt project once here (a fresh clone has no manifest), so that the code server
    # and this process do not both write dbt_project/target at the same time.
    prepare_dbt_project()
    proc = subprocess.Popen(
        [sys.executable, "-m", "funnelhouse.cli", "up", "--scale", "0.05", "--timeout", "240"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        # Import the code location while the stack starts: it takes as long as the code server.
        from funnelhouse.orchestration.definitions import defs

        graph = defs.get_repository_def().asset_graph
        expected_assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
        expected_checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
        out, err = proc.communicate(timeout=300)
        up = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        pids = {
            part: int((data_dir / "run" / f"{part}.pid").read_text())
            for part in PARTS
            if (data_dir / "run" / f"{part}.pid").exists()
        }
        assert up.returncode == 0, f"{out}\n{err}"
        yield Stack(env, data_dir, up, pids, expected_assets, expected_checks)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _cli(env, "down", timeout=120)
        for pid in pids.values() if "pids" in locals() else ():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def test_webserver_lists_every_asset_and_check(stack):
    resp = requests.post(f"{stack.url}/graphql", json={"query": QUERY}, timeout=60)
    resp.raise_for_status()
    nodes = resp.json()["data"]["assetNodes"]
    assert {n["assetChecksOrError"]["__typename"] for n in nodes} == {"AssetChecks"}
    assets = {"/".join(n["assetKey"]["path"]) for n in nodes}
    checks = {
        ("/".join(n["assetKey"]["path"]), c["name"])
        for n in nodes
        for c in n["assetChecksOrError"]["checks"]
    }
    assert assets == stack.expected_assets
    assert checks == stack.expected_checks
    # A few that must be there whatever the definitions say.
    assert {"raw/uis__calls", "raw/amocrm__leads", "staging/stg_uis__calls",
            "marts_candidate/conversion_cohort", "marts/conversion_cohort"} <= assets  # fmt: skip
    assert {("raw/uis__calls", "ids_unique_and_kept"),
            ("marts_candidate/conversion_cohort", "marts__conversion_cohort"),
            ("marts/conversion_cohort", "freshness_check")} <= checks  # fmt: skip
    assert len(assets) > 50 and len(checks) > 100


def test_up_prints_urls_but_no_secrets_and_is_idempotent(stack):
    assert stack.url in stack.up.stdout
    assert f"http://127.0.0.1:{stack.env['CLICKHOUSE_PORT']}" in stack.up.stdout
    assert set(stack.pids) == set(PARTS)
    again = _cli(stack.env, "up", "--scale", "0.05", timeout=120)
    assert again.returncode == 0, again.stderr
    for part in ("warehouse", "sources", "Dagster"):
        assert f"{part:10s} already running" in again.stdout
    # The emulators' credentials reach Dagster through a private file, and nowhere else.
    env_file = stack.data_dir / "run" / "sources.env.json"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = json.loads(env_file.read_text())
    secrets = [env["AMOCRM_TOKEN"], env["UIS_ACCESS_TOKEN"], env["ONEC_PASSWORD"],
               env["BITRIX24_WEBHOOK_URL"].rstrip("/").rsplit("/", 1)[-1]]  # fmt: skip
    logs = [p.read_text(errors="replace") for p in (stack.data_dir / "logs").glob("*.log")]
    for text in [stack.up.stdout, stack.up.stderr, again.stdout, again.stderr, *logs]:
        assert not [s for s in secrets if s in text]


def test_cli_runs_use_the_stack_sources_while_it_runs(stack):
    """`funnelhouse run` beside `make up` reads the emulators the UI reads, at their rates."""
    settings = WarehouseSettings(data_dir=stack.data_dir)
    written = json.loads((stack.data_dir / "run" / "sources.env.json").read_text())
    env = running_sources_env(settings)
    assert {k: env[k] for k in written} == written
    assert float(env["AMOCRM_RATE_PER_SECOND"]) > 7  # limits × the stack's multiplier


def test_down_stops_everything(stack):
    # A shorter grace period than the default 30 s: the freshness sensor's first run may still be
    # importing the code location, and it would only stop once that is done.
    out = _cli(stack.env, "down", "--timeout", "15", timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == (
        "Dagster stopped (process group {dagster}) sources stopped (process group {sources}) "
        "warehouse stopped".format(**stack.pids).split()
    )
    assert not [p for p in stack.pids.values() if _group_alive(p)]
    assert not list((stack.data_dir / "run").glob("*.pid"))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{stack.url}/server_info", timeout=5)
    assert running_sources_env(WarehouseSettings(data_dir=stack.data_dir)) == {}
