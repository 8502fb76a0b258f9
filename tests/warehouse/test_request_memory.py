"""Issue 15, memory: huge bodies and compression bombs, ten of each at once, through raw HTTP
and through clickhouse-connect, are refused with QUERY_IS_TOO_LARGE (229) while INSERTs within
the cap still succeed, and the endpoint stays up with a peak RSS (VmHWM) under 2 GiB."""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import clickhouse_connect
import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.conftest import EXTERNAL, EmbeddedServer, server_with_users
from tests.warehouse.attempts import VIAS

pytestmark = [
    pytest.mark.skipif(EXTERNAL, reason="starts an embedded endpoint of its own"),
    pytest.mark.slow,  # gigabytes of bodies
]

TIMEOUT = 900
PEAK_LIMIT = 2 << 30
GiB = 1 << 30
MiB = 1 << 20


def _gzip(chunks: Iterable[bytes], level: int) -> bytes:
    """gzip of the chunks' concatenation, compressed as they come: the whole is never held."""
    gz = zlib.compressobj(level, wbits=31)  # 31: gzip framing, as for Content-Encoding: gzip
    return b"".join([*(gz.compress(chunk) for chunk in chunks), gz.flush()])


@pytest.fixture(scope="module")
def payloads() -> dict[str, bytes]:
    """Each payload built once and shared by every request that sends it; built without
    holding a second copy of a GiB (`b"x" * GiB + b"\n"` holds two while it concatenates)."""
    row = b"\n".rjust(GiB + 1, b"x")  # one TSV row of 1 GiB: the engine cannot parse it in pieces
    return {
        "big_row": row,
        "row_bomb": gzip.compress(row, compresslevel=9),
        "query_bomb": _gzip([b"SELECT 1 -- ", *[b" " * MiB] * (GiB // MiB)], level=9),
        "big_query": b"SELECT 1 /* " + b"x" * (200 << 20) + b" */",
        "fitting_row": _gzip([*[b"y" * MiB] * 200, b"\n"], level=1),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[EmbeddedServer]:
    """An endpoint of its own: VmHWM is a high-water mark, so on the session's shared endpoint
    it would also count whatever the rest of the suite ran there before."""
    with server_with_users(tmp_path_factory, "", "memory_warehouse") as server:
        yield server


@pytest.fixture
def table(server: EmbeddedServer) -> Iterator[str]:
    db = f"fh_mem_{uuid.uuid4().hex[:8]}"
    for sql in (f"CREATE DATABASE {db}", f"CREATE TABLE {db}.rows (s String) ENGINE = Log"):
        requests.post(server.url, data=sql, timeout=TIMEOUT).raise_for_status()
    yield f"{db}.rows"
    requests.post(server.url, data=f"DROP DATABASE {db}", timeout=TIMEOUT)


def _reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset VmHWM to the current RSS


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _http_jobs(url: str, table: str, p: dict[str, bytes]) -> list[Callable[[], str | None]]:
    def post(body: bytes, query: str | None = None, gz: bool = False) -> Callable[[], str | None]:
        def send() -> str | None:
            headers = {"Content-Encoding": "gzip"} if gz else {}
            params = {"query": query} if query else {}
            r = requests.post(url, params=params, data=body, headers=headers, timeout=TIMEOUT)
            return r.headers.get("X-ClickHouse-Exception-Code") or str(r.status_code)

        return send

    insert = f"INSERT INTO {table} FORMAT TSV"
    return (
        [post(p["big_row"], insert)] * 10
        + [post(p["row_bomb"], insert, gz=True)] * 10
        + [post(p["query_bomb"], gz=True)] * 10
        + [post(p["big_query"])] * 10
        + [post(p["fitting_row"], insert, gz=True)] * 4
    )


def _clickhouse_connect_jobs(
    port: int, table: str, p: dict[str, bytes]
) -> list[Callable[[], str | None]]:
    def run(action: Callable[[clickhouse_connect.driver.Client], object]) -> Callable[[], str]:
        def send() -> str:
            client = clickhouse_connect.get_client(
                host="127.0.0.1",
                port=port,
                compress=False,
                connect_timeout=TIMEOUT,  # also bounds sending the body: the server is busy
                send_receive_timeout=TIMEOUT,
            )
            try:
                action(client)
            except DatabaseError as exc:
                return str(exc.code)
            finally:
                client.close()
            return "200"

        return send

    # Every body goes as a memoryview of the one shared payload, which clickhouse-connect sends
    # as is (urllib3 frames a buffer with its Content-Length, as it does bytes: chunked, an
    # oversized body would be cut off with a reset instead of read through and answered 229).
    # Given bytes, raw_insert would prepend "INSERT ... FORMAT TSV\n" to a copy of the whole
    # GiB per request; given a memoryview, it sends the statement as the `query` parameter.
    def raw(data: bytes, compression: str | None) -> Callable[[], str]:
        block = memoryview(data)
        return run(lambda c: c.raw_insert(table, ["s"], block, fmt="TSV", compression=compression))

    # `Client.query` holds copies of a 200 MB statement per call (lowered, with a FORMAT clause
    # appended, then encoded); raw_insert without a table sends its block as the whole body, as
    # `query` sends its statement (less that FORMAT clause), and gets the same DatabaseError.
    big_query = memoryview(p["big_query"])
    return (
        [raw(p["big_row"], None)] * 10
        + [raw(p["row_bomb"], "gzip")] * 10
        + [run(lambda c: c.raw_insert(None, None, big_query))] * 10
        + [raw(p["fitting_row"], "gzip")] * 4
    )


@pytest.mark.parametrize("via", VIAS)
def test_bodies_and_bombs_at_once_leave_the_server_up_and_small(
    server: EmbeddedServer, payloads: dict[str, bytes], table: str, via: str
):
    assert server.proc is not None
    _reset_peak_rss(server.proc.pid)
    if via == "http":
        jobs = _http_jobs(server.url, table, payloads)
    else:
        jobs = _clickhouse_connect_jobs(server.port, table, payloads)
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        codes = list(pool.map(lambda job: job(), jobs))
    assert codes == ["229"] * (len(jobs) - 4) + ["200"] * 4
    assert requests.get(f"{server.url}/ping", timeout=TIMEOUT).text == "Ok.\n"
    r = requests.post(server.url, data=f"SELECT count(), max(length(s)) FROM {table}")
    assert r.text == f"4\t{200 << 20}\n"
    peak = _peak_rss(server.proc.pid)
    assert peak < PEAK_LIMIT, f"peak RSS {peak / GiB:.2f} GiB"
