"""The command line as a user runs it, against the test warehouse."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(warehouse, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLICKHOUSE_HOST": warehouse.host, "CLICKHOUSE_PORT": str(warehouse.port),
           "COLUMNS": "200"}  # fmt: skip
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
