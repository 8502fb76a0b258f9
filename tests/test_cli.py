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
