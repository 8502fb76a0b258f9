"""A sync killed with SIGKILL mid-way, then rerun, ends exactly like an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from funnelhouse.ingest.sources import SOURCES
from tests.ingest.conftest import new_session
from tests.ingest.test_sync import expected, loaded

SYNC_ALL = textwrap.dedent(
    """
    import sys
    from funnelhouse.ingest.raw import RawStore
    from funnelhouse.ingest.sources import SOURCES, SourceSession
    from funnelhouse.warehouse.client import get_client
    session = SourceSession(RawStore(get_client(), database=sys.argv[1]))
    for source in SOURCES.values():
        for stream in source.streams:
            session.sync(source.name, stream)
            print(source.name, stream, flush=True)
    """
)


def test_sigkill_mid_sync_then_rerun_loses_and_doubles_nothing(
    emulators, store, company, warehouse
):
    emulators.set_faults("slow:delay=0.04")  # long enough a run to be killed in the middle
    env = {**os.environ, "CLICKHOUSE_HOST": warehouse.host,
           "CLICKHOUSE_PORT": str(warehouse.port)}  # fmt: skip
    for var in ("AMOCRM", "BITRIX24", "UIS", "ONEC"):  # the documented rates: a longer sync
        env.pop(f"{var}_RATE_PER_SECOND", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", SYNC_ALL, store.database],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    done: list[str] = []
    deadline = time.monotonic() + 120
    while len(done) < 3 and time.monotonic() < deadline:  # some streams finished, others not
        line = proc.stdout.readline()
        if not line:
            break
        done.append(line.strip())
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Streams that finished while we slept printed too: what was in flight comes after them.
    done += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    assert 3 <= len(done) < sum(len(s.streams) for s in SOURCES.values())
    # The stream in flight when killed has no cursor yet, so the rerun re-reads it whole.
    in_flight = [(s.name, n) for s in SOURCES.values() for n in s.streams][len(done)]
    assert store.get_cursor(*in_flight) is None

    emulators.set_faults(None)
    session = new_session(store)
    for source in SOURCES.values():
        for name in source.streams:
            session.sync(source.name, name)
    assert loaded(store) == expected(company, emulators.clock)
    for source in SOURCES.values():
        for stream in source.streams.values():
            rows, ids = store.client.query(
                f"SELECT count(), uniqExact(id) FROM {store.database}.{stream.table} FINAL"
            ).result_rows[0]
            assert rows == ids, stream.key
