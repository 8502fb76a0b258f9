"""The command line as a user runs it, against the test warehouse."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys


def _run(warehouse, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLICKHOUSE_HOST": warehouse.host, "CLICKHOUSE_PORT": str(warehouse.port),
           "COLUMNS": "200", "FUNNELHOUSE_DATA_DIR": str(warehouse.data_dir)}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "funnelhouse.cli", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_query_prints_a_table(warehouse):
    out = _run(warehouse, "query", "SELECT 6 * 7 AS answer, 'воронка' AS word")
    assert out.returncode == 0, out.stderr
    assert "answer" in out.stdout and "42" in out.stdout and "воронка" in out.stdout


def test_query_error_is_one_clear_line(warehouse):
    out = _run(warehouse, "query", "SELECT * FROM nowhere.nothing")
    assert out.returncode == 1
    assert "Code: 81" in out.stderr or "Code: 60" in out.stderr
    assert "Traceback" not in out.stderr


def test_query_formats_for_programs(warehouse):
    sql = "SELECT number AS n, toString(number * 2) AS s, toDate('2024-01-02') AS d FROM numbers(3)"
    as_csv = _run(warehouse, "query", "--format", "csv", sql)
    assert as_csv.returncode == 0, as_csv.stderr
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["n", "s", "d"], ["0", "0", "2024-01-02"], ["1", "2", "2024-01-02"],
        ["2", "4", "2024-01-02"],
    ]  # fmt: skip
    as_json = _run(warehouse, "query", "-f", "json", sql)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"n": i, "s": str(i * 2), "d": "2024-01-02"} for i in range(3)
    ]
    bad = _run(warehouse, "query", "--format", "xml", "SELECT 1")
    assert bad.returncode == 2 and "xml" in bad.stderr


def test_status_lists_every_stream_even_before_any_load(warehouse):
    out = _run(warehouse, "status", "--database", "raw_never_loaded")
    assert out.returncode == 0, out.stderr
    for stream in ("amocrm/leads", "bitrix24/deals", "uis/calls", "onec/sales"):
        assert stream in out.stdout
    assert "never" in out.stdout and "26 streams never loaded" in out.stdout


def test_run_rejects_a_bad_selection_or_date(warehouse):
    bad_select = _run(warehouse, "run", "--select", "nonsense((")
    assert bad_select.returncode == 1
    assert "Dagster's selection syntax" in bad_select.stderr
    assert "Traceback" not in bad_select.stderr
    bad_date = _run(warehouse, "run", "--since", "2024-13-01")
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr


def test_a_source_name_selects_its_ingest_and_everything_downstream():
    from funnelhouse.orchestration.run import resolve_selection

    keys = {k.to_user_string() for k in resolve_selection("amocrm")}
    assert {"raw/amocrm__leads", "raw/amocrm__users", "staging/stg_amocrm__leads"} <= keys
    assert any(k.startswith("marts/") for k in keys)
    assert not any(k.startswith(("raw/bitrix24", "raw/uis", "raw/onec")) for k in keys)
    assert {k.to_user_string() for k in resolve_selection('key:"raw/uis__calls"')} == {
        "raw/uis__calls"
    }


def test_ingest_run_off_a_terminal_prints_plain_lines_one_per_stream(warehouse):
    """A log or CI reads plain text: no escape codes, and each stream says it is done."""
    from funnelhouse.ingest.settings import scaled_rates
    from funnelhouse.simulator.config import SimConfig
    from funnelhouse.simulator.emulators.server import start_emulators

    with start_emulators(SimConfig(seed=3, scale=0.02), rate_multiplier=1000) as sources:
        env = {**sources.env(), **scaled_rates(1000)}
        os.environ.update(env)  # _run passes os.environ on
        try:
            out = _run(warehouse, "ingest", "run", "--source", "uis", "--source", "onec")
        finally:
            for key in env:
                os.environ.pop(key, None)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "\x1b" not in text
    from funnelhouse.ingest.sources import SOURCES

    for source in ("uis", "onec"):
        for stream in SOURCES[source].streams:
            done = [ln for ln in text.splitlines() if f"done   {source}/{stream} " in ln]
            assert len(done) == 1, f"{source}/{stream}: {done}\n{text}"
            assert "rows" in done[0]


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_long_step_off_a_terminal_gets_a_heartbeat_naming_it():
    """Driven by a fake clock: every tick past the heartbeat interval of silence prints one
    line naming what runs; ticks inside it print nothing."""
    from rich.console import Console

    from funnelhouse.progress import HEARTBEAT_SECONDS, StepDisplay, StepOutcome

    buffer = io.StringIO()
    clock = _FakeClock()
    display = StepDisplay(Console(file=buffer, width=150), clock=clock)
    with display:
        display.step_started("dbt_build")
        display.step_counted("dbt_build", "40 tables, 120 checks")  # what dbt has built so far
        display.step_started("ingest_uis")
        display.step_advanced("ingest_uis", 3, 1500, label="uis/calls")
        clock.now = HEARTBEAT_SECONDS - 1
        display.tick()
        assert buffer.getvalue() == ""
        clock.now = HEARTBEAT_SECONDS
        display.tick()
        display.tick()  # just printed: silent again
        lines = buffer.getvalue().splitlines()
        assert len(lines) == 1
        waited = f"{HEARTBEAT_SECONDS:.0f} s"
        assert f"dbt_build ({waited}, 40 tables, 120 checks)" in lines[0]
        assert f"uis/calls ({waited}, 1,500 rows)" in lines[0]
        clock.now = 2 * HEARTBEAT_SECONDS
        display.tick()
        assert len(buffer.getvalue().splitlines()) == 2
        display.stream_finished("ingest_uis", StepOutcome("uis/calls", 16.0, True, 1500, 3))
        display.step_finished("ingest_uis", None)  # its streams had their lines
        clock.now = 3 * HEARTBEAT_SECONDS
        display.tick()
    lines = buffer.getvalue().splitlines()
    assert "done   uis/calls" in lines[2] and "1,500 rows" in lines[2]
    assert "dbt_build" in lines[3] and "uis/calls" not in lines[3]
    assert "\x1b" not in buffer.getvalue()


def test_a_step_without_pages_counts_what_it_finished():
    """The dbt step reports its tables and tests as Dagster records them: a long build shows
    how far it is, and a failed test says so before the step ends. Read from a real run's
    event log, as `funnelhouse run` reads it."""
    from dagster import (
        AssetCheckResult,
        AssetCheckSpec,
        AssetSpec,
        DagsterInstance,
        MaterializeResult,
        materialize,
        multi_asset,
    )

    from funnelhouse.progress import RunWatcher

    @multi_asset(
        specs=[AssetSpec("built_a"), AssetSpec("built_b")],
        check_specs=[AssetCheckSpec("rows_ok", asset="built_a"),
                     AssetCheckSpec("keys_ok", asset="built_a")],
    )  # fmt: skip
    def build_step():
        yield MaterializeResult(asset_key="built_a")
        yield AssetCheckResult(asset_key="built_a", check_name="rows_ok", passed=True)
        yield AssetCheckResult(asset_key="built_a", check_name="keys_ok", passed=False)
        yield MaterializeResult(asset_key="built_b")

    class Counted:
        def __init__(self) -> None:
            self.counts: list[str] = []

        def step_counted(self, step: str, done: str) -> None:
            self.counts.append(f"{step}: {done}")

        def __getattr__(self, name: str):  # the display's other calls are not under test
            return lambda *args, **kwargs: None

    instance = DagsterInstance.ephemeral()
    materialize([build_step], instance=instance, tags={"test": "counts"})
    display = Counted()
    RunWatcher(instance, display, ("test", "counts")).poll()  # type: ignore[arg-type]
    assert display.counts == [
        "build_step: 1 tables",
        "build_step: 1 tables, 1 checks",
        "build_step: 1 tables, 2 checks (1 failed)",
        "build_step: 2 tables, 2 checks (1 failed)",
    ]


def test_a_retried_source_step_keeps_one_line_per_stream():
    """A retry loads the streams of the first attempt again (from their cursors): no second
    line for them, and the summary counts each stream once with the rows of both attempts."""
    from rich.console import Console

    from funnelhouse.progress import StepDisplay, StepOutcome

    buffer = io.StringIO()
    display = StepDisplay(Console(file=buffer, width=150), clock=_FakeClock())
    for attempt_rows in (1500, 3):
        display.step_started("ingest_uis")
        display.stream_finished("ingest_uis", StepOutcome("uis/calls", 2.0, True, attempt_rows, 1))
    display.step_finished("ingest_uis", None)
    assert [ln for ln in buffer.getvalue().splitlines() if "uis/calls" in ln] == [
        "[    0 s] done   uis/calls                      1,500 rows, 1 pages, 2.0 s"
    ]
    [uis] = display.summary()
    assert uis.split() == ["uis", "1", "stream", "1,503", "rows", "4.0", "s"]


def test_progress_lines_logged_by_ingest_steps_are_read_back():
    from funnelhouse.progress import parse_progress, progress_message

    assert parse_progress(progress_message("amocrm/leads", 12, 3400)) == ("amocrm/leads", 12, 3400)
    assert parse_progress("amocrm/leads: 12 pages so far") is None
