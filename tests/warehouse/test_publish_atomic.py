"""Publishing the marts is atomic across marts and completes forward after a crash.

Small hand-made candidates stand in for dbt's: run 1 and run 2 differ in every mart's row count
and in their schemas (run 2 adds a column, widens a type, drops a column). A subprocess
publishes run 2 and is SIGKILLed after each of its steps in turn; a reader polls one
cross-mart query all along. Every answer must show all marts from one run with the matching
publish_log row, and rerunning publish must always end on run 2.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from pydantic import SecretStr

from funnelhouse.warehouse import publish_sql as sql
from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.publish import LEGACY_ID, publish
from funnelhouse.warehouse.settings import REPO_ROOT

CANDIDATE, TARGET = "pk_candidate", "pk_marts"
# First, middle and last: every kind of step, and a set staged in part.
MARTS = ["m00", "m01", "m02"]
AS_OF = {1: "2026-01-01 00:00:00.000", 2: "2026-01-02 00:00:00.000"}
TIMEOUT = 300  # seconds; only a hung warehouse comes near it


def rows(run: int, mart: str) -> int:
    return 3 + MARTS.index(mart) + 2 * (run == 2)


def _columns(run: int, mart: str) -> str:
    cols = ["run UInt8 COMMENT 'Which candidate build'"]
    key = "UInt64" if run == 2 and mart == "m01" else "UInt32"  # run 2 widens a type
    cols.append(f"k {key} COMMENT 'Row key'")
    if run == 2 and mart == "m00":
        cols.append("note String COMMENT 'Added in run 2'")
    if run == 1 and mart == "m02":
        cols.append("old Float64 COMMENT 'Dropped in run 2'")
    return ", ".join(cols)


def build(client, database: str, run: int) -> None:
    """`database` holds run `run`'s marts as plain tables, as dbt (or the old publish) leaves
    them."""
    client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    client.command(f"CREATE DATABASE {database}")
    for mart in MARTS:
        client.command(
            f"CREATE TABLE {database}.{mart} ({_columns(run, mart)}) ENGINE = MergeTree "
            f"ORDER BY k COMMENT 'Hand-made mart {mart}'"
        )
        client.command(
            f"INSERT INTO {database}.{mart} (run, k) SELECT {run}, number "
            f"FROM numbers({rows(run, mart)})"
        )


def reset(client) -> None:
    for db in (CANDIDATE, TARGET):
        client.command(f"DROP DATABASE IF EXISTS {db} SYNC")


def publish_run(client, run: int, run_id: str, **kwargs):
    return publish(client, MARTS, CANDIDATE, TARGET, run_id=run_id, as_of=AS_OF[run],
                   **kwargs)  # fmt: skip


# One query: the live publish id by the views' own pointer subquery (evaluated once per query),
# and each mart's runs and rows.
MARTS_SQL = ", ".join(
    f"(SELECT groupUniqArray(run) FROM {TARGET}.{m}), (SELECT count() FROM {TARGET}.{m})"
    for m in MARTS
)
STATE_SQL = f"SELECT {sql.pointer(TARGET)}, {MARTS_SQL}"


def state(client) -> int:
    """The run every mart shows, checked against the publish_log row of the live publish;
    fails on marts of two runs or a log that disagrees with them."""
    try:
        pid, *cells = client.query(STATE_SQL).result_rows[0]
    except DatabaseError as exc:
        if "UNKNOWN_TABLE" not in str(exc):
            raise
        pid, cells = None, list(client.query(f"SELECT {MARTS_SQL}").result_rows[0])  # no log yet
    runs = {r for cell in cells[::2] for r in cell}
    counts = dict(zip(MARTS, cells[1::2], strict=True))
    assert len(runs) == 1, f"marts of runs {runs}: {counts} (publish {pid})"
    (run,) = runs
    assert counts == {m: rows(run, m) for m in MARTS}, (run, counts)
    if not pid:  # the old-style tables, before the first commit
        assert run == 1
        return run
    log = client.query(
        f"SELECT toString(as_of), row_counts FROM {TARGET}.publish_log "
        "WHERE publish_id = {pid:String}",
        parameters={"pid": pid},
    ).result_rows
    assert log, f"publish {pid!r} is live but not in publish_log"
    as_of, row_counts = log[-1]
    assert row_counts == counts, (pid, row_counts, counts)
    assert as_of == (None if pid == LEGACY_ID else AS_OF[run]), (pid, as_of, run)
    return run


@dataclass
class Reader:
    """Polls `state` in a thread until stopped; counts polls so the test can wait for one."""

    warehouse: object
    polls: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _polled: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        client = get_client(self.warehouse)
        try:
            while not self._stop.is_set():
                try:
                    state(client)
                except (AssertionError, DatabaseError) as exc:
                    self.failures.append(str(exc)[:500])
                with self._polled:
                    self.polls += 1
                    self._polled.notify_all()
        finally:
            client.close()

    def wait_for_poll(self) -> None:
        """Returns once a whole poll has run after this call began."""
        with self._polled:
            target = self.polls + 2
            assert self._polled.wait_for(lambda: self.polls >= target, timeout=TIMEOUT)


@contextmanager
def reading(warehouse) -> Iterator[Reader]:
    reader = Reader(warehouse)
    thread = threading.Thread(target=reader.run, daemon=True)
    thread.start()
    try:
        yield reader
    finally:
        reader._stop.set()
        thread.join(TIMEOUT)
    assert not reader.failures, reader.failures[:3]


def kill_after(warehouse, step: str) -> None:
    """Publish run 2 in a subprocess and SIGKILL it once `step` has completed."""
    spec = dict(host=warehouse.host, port=warehouse.port, stop_after=step, marts=MARTS,
                candidate=CANDIDATE, target=TARGET, run_id="killed",
                as_of=AS_OF[2])  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.warehouse.publish_child", json.dumps(spec)],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.strip())
            if lines[-1] in ("STOPPED", "DONE"):
                break
        assert lines[-1:] == ["STOPPED"], f"publish never reached {step}: {lines}"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(TIMEOUT) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)


def published_as_old_exchange_left_it(client) -> None:
    """`marts` as plain tables of run 1, before versioned publishing existed."""
    reset(client)
    build(client, TARGET, 1)
    build(client, CANDIDATE, 2)


def published_versioned(client) -> None:
    """Run 1 live through versioned publishing, run 2 the new candidate."""
    build(client, CANDIDATE, 1)
    publish_run(client, 1, "run-1")
    build(client, CANDIDATE, 2)


@pytest.fixture
def client(warehouse):
    client = get_client(warehouse)
    reset(client)
    yield client
    reset(client)
    client.close()


def _steps(client, setup: Callable) -> list[str]:
    setup(client)
    steps: list[str] = []
    publish_run(client, 2, "reference", on_step=steps.append)
    return steps


def _kill_points(steps: list[str], setup: Callable) -> list[int]:
    """Every step of a publish; of the one-time legacy upgrade, its own steps and the first one
    after them: from there on it is a versioned publish over run 1, which the other case kills
    at every step already."""
    if setup is not published_as_old_exchange_left_it:
        return list(range(len(steps)))
    last_adopt = max(i for i, s in enumerate(steps) if s.startswith("adopt:"))
    return list(range(last_adopt + 2))


@pytest.mark.slow  # about 1.5 min per case on 2 busy cores
@pytest.mark.parametrize(
    "setup", [published_versioned, published_as_old_exchange_left_it], ids=["versioned", "legacy"]
)
def test_publish_killed_after_any_step_completes_forward(client, warehouse, setup):
    steps = _steps(client, setup)
    assert steps[-len(MARTS) - 1] == "commit" and steps[0] == "prepare"
    if setup is published_as_old_exchange_left_it:
        assert "adopt:commit" in steps
    for i in _kill_points(steps, setup):
        step = steps[i]
        setup(client)
        with reading(warehouse) as reader:
            kill_after(warehouse, step)
            expected = 2 if i >= steps.index("commit") else 1
            assert state(client) == expected, step
            reader.wait_for_poll()  # the reader saw the killed state too
            done = publish_run(client, 2, f"rerun-{i}")
            assert state(client) == 2, step
            assert done.committed == (i < steps.index("commit")), step
            reader.wait_for_poll()
        # The rerun left one version per mart and no column only a dropped version used.
        for mart in MARTS:
            kept = client.query(
                f"SELECT DISTINCT _publish_id FROM {TARGET}.{mart}__versions"
            ).result_rows
            assert kept == [(done.publish_id,)], (step, mart, kept)
        kept_columns = client.query(
            f"SELECT name FROM system.columns WHERE database = '{TARGET}' "
            "AND table = 'm02__versions'"
        ).result_rows
        assert ("old",) not in kept_columns, step


def test_views_carry_the_candidates_columns_and_comments(client):
    build(client, CANDIDATE, 1)
    publish_run(client, 1, "run-1")
    build(client, CANDIDATE, 2)
    done = publish_run(client, 2, "run-2")
    again = publish_run(client, 2, "run-3")  # nothing new: no second log row
    assert (again.publish_id, again.committed, again.run_id) == (done.publish_id, False, "run-2")
    meta = "SELECT table, name, type, comment FROM system.columns WHERE database = {db:String} "
    published = client.query(meta + "AND table IN {marts:Array(String)} ORDER BY table, position",
                             parameters={"db": TARGET, "marts": MARTS}).result_rows  # fmt: skip
    candidate = client.query(meta + "ORDER BY table, position",
                             parameters={"db": CANDIDATE}).result_rows  # fmt: skip
    assert published == candidate
    assert not client.command(
        f"SELECT count() FROM system.columns WHERE database = '{TARGET}' AND comment = ''"
    )
    tables = f"SELECT name, engine, comment FROM system.tables WHERE database = '{TARGET}' "
    assert client.query(tables + "AND engine = 'View' ORDER BY name").result_rows == [
        (m, "View", f"Hand-made mart {m}") for m in MARTS
    ]
    assert client.query(tables + "AND engine != 'View' ORDER BY name").result_rows == [
        (f"{m}__versions", "MergeTree", f"Every staged version of {TARGET}.{m}; read {m}, "
         "which shows the live one") for m in MARTS
    ] + [("publish_log", "MergeTree", client.command(
        f"SELECT comment FROM system.tables WHERE database = '{TARGET}' AND name = 'publish_log'"
    ))]  # fmt: skip
    log = client.query(f"SELECT run_id, publish_id FROM {TARGET}.publish_log ORDER BY seq")
    assert [r[0] for r in log.result_rows] == ["run-1", "run-2"]


def test_bi_reads_published_marts_and_the_log(warehouse, embedded_only):
    """The BI user (read only, allowed `marts` and `system`) reads the views and the log."""
    admin = get_client(warehouse)
    names = ("marts_candidate", "marts")
    try:
        for db in names:
            admin.command(f"DROP DATABASE IF EXISTS {db} SYNC")
        build(admin, "marts_candidate", 2)
        done = publish(admin, MARTS, run_id="bi-run", as_of=AS_OF[2])
        bi = get_client(
            warehouse.model_copy(update={"user": "bi", "password": SecretStr("funnelhouse_bi")})
        )
        assert bi.command("SELECT count() FROM marts.m02") == rows(2, "m02")
        assert bi.query("SELECT publish_id, run_id FROM marts.publish_log").result_rows == [
            (done.publish_id, "bi-run")
        ]
        with pytest.raises(DatabaseError, match="READONLY"):
            bi.command(f"INSERT INTO marts.publish_log (publish_id) VALUES ('{done.publish_id}')")
        bi.close()
    finally:
        for db in names:
            admin.command(f"DROP DATABASE IF EXISTS {db} SYNC")
        admin.close()
