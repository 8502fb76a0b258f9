"""What `make demo` prints: every key mart of the last full month, readable, never blank."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from funnelhouse.dbt import DBT_PROJECT_DIR
from funnelhouse.demo import KEY_MARTS, console, print_key_marts, print_query
from tests.dbt import golden_data as g
from tests.dbt.conftest import dbt_build, load_golden, reset_pipeline


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):
    """The hand-written company built straight into `marts`, as a publish leaves it."""
    store = reset_pipeline(warehouse)
    project = tmp_path_factory.mktemp("dbt") / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "seeds" / "manager_plans.csv").write_text(g.PLANS)
    load_golden(store)
    mp = pytest.MonkeyPatch()
    mp.setenv("FUNNELHOUSE_MARTS_SCHEMA", "marts")
    dbt_build(warehouse, "--vars", g.VARS, project_dir=project)
    mp.undo()
    return warehouse


def test_every_key_mart_prints_rows_for_the_last_full_month(published):
    with console.capture() as out:
        print_key_marts(published)
    text = out.get()
    # The marts end in March 2026 (L3 won on 03-01, the last leads on 03-02..05): February is
    # the last full month, and every report names it and has rows for it.
    assert "Manager activity, February 2026" in text
    assert "no rows" not in text
    assert text.count("February 2026") == sum("{month_name}" in t for t, _ in KEY_MARTS)
    # Amounts grouped by thousands with the currency; weekdays and months by name.
    assert "100\u202f000 ₽" in text  # ООО Ромашка's January sales, in the 1C report
    assert "Fri" in text  # C4, the missed call, rang on a Friday
    assert "Jan 2026" in text


def test_an_empty_result_says_so(published):
    with console.capture() as out:
        assert print_query(published, "SELECT 1 WHERE 0", "Nothing") == 0
    assert out.get().strip() == "Nothing: no rows"


@pytest.mark.slow  # the whole pipeline on a tiny company: minutes on 2 busy cores
@pytest.mark.timeout(1800)
def test_the_demo_off_a_terminal_is_short_plain_and_names_its_log(tmp_path):
    """What a CI log or `make demo > file` gets: no escape codes, one line per stream, dbt's
    log in a file it names, and before the mart tables about a screen of lines, plus at most
    one heartbeat per heartbeat interval (how many depends on how long the run takes)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    from funnelhouse.ingest.sources import SOURCES
    from funnelhouse.progress import HEARTBEAT_SECONDS

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "DAGSTER"))}
    env |= {"FUNNELHOUSE_DATA_DIR": str(tmp_path), "CLICKHOUSE_PORT": str(port)}
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "funnelhouse.cli", "demo", "--scale", "0.02",
         "--rate-multiplier", "1000"],
        capture_output=True, env=env, timeout=1700,
    )  # fmt: skip
    seconds = time.monotonic() - started
    text = out.stdout.decode() + out.stderr.decode()
    assert out.returncode == 0, text[-3000:]
    assert b"\x1b" not in out.stdout + out.stderr
    lines = text.splitlines()
    for source in SOURCES.values():
        for stream in source.streams:
            done = [ln for ln in lines if f"done   {source.name}/{stream} " in ln]
            assert len(done) == 1, f"{source.name}/{stream}: {done}"
    before_marts = lines[: next(i for i, ln in enumerate(lines) if "Gross vs cohort" in ln)]
    heartbeats = [ln for ln in before_marts if "still working: " in ln]
    assert len(heartbeats) <= seconds / HEARTBEAT_SECONDS + 1
    assert len(before_marts) - len(heartbeats) <= 60, "\n".join(before_marts)
    assert str(tmp_path / "logs" / "demo.log") in text
    # dbt's console log went to the steps' logs, whose folder is printed, not to the screen.
    steps = next(ln for ln in lines if "dbt's log and each step's output: " in ln)
    folder = Path(steps.split("output: ", 1)[1].strip())
    assert any("Running with dbt" in f.read_text() for f in folder.glob("*.out"))
    assert "Running with dbt" not in text and "AssetObservation" not in text
