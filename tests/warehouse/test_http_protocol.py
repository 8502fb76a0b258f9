"""The ClickHouse HTTP interface at the wire: what any client or BI tool may send."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor

import lz4.frame
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
import zstandard

from tests.conftest import EmbeddedServer, free_port


@pytest.fixture(scope="module")
def url(warehouse):
    return warehouse.http_url


@pytest.fixture
def table(url):
    name = f"default_t_{uuid.uuid4().hex[:8]}"
    db = f"db_{uuid.uuid4().hex[:8]}"
    ok(url, f"CREATE DATABASE {db}")
    ok(url, f"CREATE TABLE {db}.{name} (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
    yield f"{db}.{name}"
    ok(url, f"DROP DATABASE {db}")


def ok(url: str, query: str, data: bytes | None = None, **params) -> requests.Response:
    if data is None:
        r = requests.post(url, params=params, data=query.encode())
    else:
        r = requests.post(url, params={"query": query, **params}, data=data)
    assert r.status_code == 200, r.text
    return r


def test_ping_and_root(url):
    assert requests.get(f"{url}/ping").text == "Ok.\n"
    assert requests.get(f"{url}/").text == "Ok.\n"


def test_query_in_url_or_body(url):
    assert requests.get(url, params={"query": "SELECT 1 + 1"}).text == "2\n"
    assert requests.post(url, data=b"SELECT 'body'").text == "body\n"
    # The URL holds the start of the query and the body the rest, as on a server.
    r = requests.post(url, params={"query": "SELECT"}, data=b"40 + 2")
    assert r.text == "42\n"


@pytest.mark.parametrize(
    "fmt,payload",
    [
        ("TabSeparated", b"1\tone\n2\ttwo\n"),
        ("CSV", b'1,"one"\n2,"two"\n'),
        ("JSONEachRow", b'{"id":1,"name":"one"}\n{"id":2,"name":"two"}\n'),
    ],
)
def test_insert_text_formats_after_query_param_and_in_body(url, table, fmt, payload):
    ok(url, f"INSERT INTO {table} FORMAT {fmt}", data=payload)
    ok(url, f"INSERT INTO {table} FORMAT {fmt}\n" + payload.decode())
    r = ok(url, f"SELECT count(), groupArray(name) FROM (SELECT * FROM {table} ORDER BY id, name)")
    assert r.text == "4\t['one','one','two','two']\n"


@pytest.mark.parametrize("fmt", ["Native", "RowBinary", "Parquet", "Arrow"])
def test_insert_binary_formats(url, table, fmt):
    # The server itself produces the binary payload; it must load back byte for byte.
    source = "SELECT toUInt32(number) AS id, concat('n', toString(number)) AS name FROM numbers(9)"
    payload = ok(url, f"{source} FORMAT {fmt}").content
    ok(url, f"INSERT INTO {table} FORMAT {fmt}", data=payload)  # data after the query param
    body = f"INSERT INTO {table} FORMAT {fmt}\n".encode() + payload  # header and data in body
    assert requests.post(url, data=body).status_code == 200
    r = ok(url, f"SELECT count(), sum(id), uniqExact(name) FROM {table}")
    assert r.text == "18\t72\t9\n"


def test_parquet_from_pyarrow(url, table):
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([5, 6], pa.uint32()), "name": ["x", "y"]}), buf)
    ok(url, f"INSERT INTO {table} FORMAT Parquet", data=buf.getvalue())
    assert ok(url, f"SELECT sum(id) FROM {table}").text == "11\n"


@pytest.mark.parametrize(
    "encoding,compress",
    [
        ("gzip", gzip.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("lz4", lz4.frame.compress),
    ],
)
def test_compressed_request_bodies(url, table, encoding, compress):
    rows = b"".join(b"%d\tname%d\n" % (i, i) for i in range(1000))
    r = requests.post(
        url,
        params={"query": f"INSERT INTO {table} FORMAT TabSeparated"},
        data=compress(rows),
        headers={"Content-Encoding": encoding},
    )
    assert r.status_code == 200, r.text
    assert json.loads(r.headers["X-ClickHouse-Summary"])["written_rows"] == "1000"
    # A whole query can be compressed too.
    r = requests.post(
        url, data=compress(f"SELECT count() FROM {table}".encode()),
        headers={"Content-Encoding": encoding},
    )  # fmt: skip
    assert r.text == "1000\n"


def test_compressed_response_when_asked(url):
    r = requests.get(
        url,
        params={"query": "SELECT number FROM numbers(100000)", "enable_http_compression": "1"},
        headers={"Accept-Encoding": "gzip"},
    )
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.text.splitlines()[-1] == "99999"  # requests decodes gzip transparently


def test_default_format_database_query_id_and_params(url, table):
    db, name = table.split(".")
    ok(url, f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
    r = requests.get(
        url,
        params={
            "query": f"SELECT id, name FROM {name} WHERE id = {{id:UInt32}}",
            "database": db,
            "default_format": "JSONEachRow",
            "query_id": "q-123",
            "param_id": "2",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"id": 2, "name": "b"}
    assert r.headers["X-ClickHouse-Query-Id"] == "q-123"
    assert r.headers["X-ClickHouse-Format"] == "JSONEachRow"
    # A FORMAT clause in the query wins over default_format.
    r = requests.get(url, params={"query": "SELECT 1 AS x FORMAT CSVWithNames",
                                  "default_format": "JSON"})  # fmt: skip
    assert r.text == '"x"\n1\n'


def test_settings_in_url_apply_to_that_request_only(url):
    q = "SELECT getSetting('max_block_size')"
    default = requests.get(url, params={"query": q}).text
    assert requests.get(url, params={"query": q, "max_block_size": "777"}).text == "777\n"
    assert requests.get(url, params={"query": q}).text == default
    sid = uuid.uuid4().hex
    s = {"session_id": sid}
    assert requests.get(url, params={"query": q, "max_block_size": "555", **s}).text == "555\n"
    assert requests.get(url, params={"query": q, **s}).text == default
    ok(url, "SET max_block_size = 333", session_id=sid)  # SET does persist in its session
    assert requests.get(url, params={"query": q, **s}).text == "333\n"
    assert requests.get(url, params={"query": q}).text == default


def test_settings_a_client_repeats_apply_to_each_request_only(url):
    """dbt sends the same settings with every request of its session, and the endpoint leaves
    them applied between such requests: a request that sends another value, none, or fails
    still gets its own, and a SET statement changes the session's."""
    q = "SELECT getSetting('date_time_input_format')"
    default = ok(url, q).text.strip()
    a, b = (v for v in ("basic", "best_effort", "best_effort_us") if v != default)
    s = {"session_id": uuid.uuid4().hex}

    def value(setting: str | None = None) -> str:
        sent = {"date_time_input_format": setting} if setting else {}
        return ok(url, q, **s, **sent).text.strip()

    assert [value(a), value(a), value(), value(a), value(b), value()] == [
        a, a, default, a, b, default]  # fmt: skip
    for _ in range(2):  # a value the engine refused is not taken for applied the next time
        r = requests.post(url, params={**s, "date_time_input_format": "nonsense"}, data=q)
        assert r.headers.get("X-ClickHouse-Exception-Code"), r.text
    assert [value(), value(a)] == [default, a]
    ok(url, f"SET date_time_input_format = '{b}'", **s, date_time_input_format=a)
    assert [value(), value(a), value()] == [b, a, b]
    assert ok(url, q).text.strip() == default  # no other request has it


def test_database_in_url_applies_to_that_request_only(url):
    """dbt names its database in every request of its session: each runs there, and the
    session keeps its own database (the last USE without `database`) for requests that name
    none, however many such requests come in a row; a USE in such a request does not stick."""
    a, b = (f"db_{uuid.uuid4().hex[:12]}" for _ in range(2))
    for db in (a, b):
        ok(url, f"CREATE DATABASE {db}")
    s = {"session_id": uuid.uuid4().hex}

    def current(**params) -> str:
        return ok(url, "SELECT currentDatabase()", **s, **params).text.strip()

    assert [current(), current(database=a), current(database=a), current()] == [
        "default", a, a, "default"]  # fmt: skip
    ok(url, f"USE {b}", **s)
    assert [current(database=a), current(database=b), current()] == [a, b, b]
    ok(url, "USE default", **s, database=a)
    assert [current(), current(database=a), current(database=a)] == [b, a, a]
    ok(url, f"USE {a}", **s)  # the session's own database becomes the one it is in
    assert [current(database=b), current()] == [b, a]
    # Its own database dropped by a request that ran elsewhere: the session starts anew, as
    # one that lost its state does (a server would leave it in a database that is gone).
    ok(url, f"DROP DATABASE {a}", **s, database=b)
    assert current() == "default"
    ok(url, f"DROP DATABASE {b}")


def test_sessions_are_isolated(url):
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    ok(url, "CREATE TEMPORARY TABLE tmp_s (x UInt8)", session_id=a)
    ok(url, "INSERT INTO tmp_s VALUES (7)", session_id=a)
    assert ok(url, "SELECT sum(x) FROM tmp_s", session_id=a).text == "7\n"
    r = requests.post(url, params={"session_id": b}, data=b"SELECT sum(x) FROM tmp_s")
    assert r.status_code == 404 and r.headers["X-ClickHouse-Exception-Code"] == "60"
    r = requests.post(url, params={"session_id": uuid.uuid4().hex, "session_check": "1"},
                      data=b"SELECT 1")  # fmt: skip
    assert r.headers["X-ClickHouse-Exception-Code"] == "372"


def test_a_session_timeout_is_whole_seconds_up_to_an_hour(url):
    """An idle session holds an engine connection until its timeout: one that never expires
    (huge, infinite, not a number) would let any client pile them up."""
    for bad in ("abc", "nan", "inf", "-1", "1.5", "1e9", "3601", "9" * 5000, "٣", ""):
        sid = uuid.uuid4().hex
        r = requests.post(url, params={"session_id": sid, "session_timeout": bad},
                          data=b"SELECT 1")  # fmt: skip
        assert r.headers.get("X-ClickHouse-Exception-Code") == "374", (bad, r.text)
        assert "session_timeout" in r.text and "(INVALID_SESSION_TIMEOUT)" in r.text
        # Refused before any session was opened.
        r = requests.post(url, params={"session_id": sid, "session_check": "1"}, data=b"SELECT 1")
        assert r.headers["X-ClickHouse-Exception-Code"] == "372", bad
    sid = uuid.uuid4().hex
    ok(url, "SET max_block_size = 321", session_id=sid, session_timeout="3600")
    q = "SELECT getSetting('max_block_size')"
    assert ok(url, q, session_id=sid, session_check="1").text == "321\n"


def test_error_shape(url):
    r = requests.post(url, data=b"SELECT * FROM system.no_such_table")
    assert r.status_code == 404
    assert r.headers["X-ClickHouse-Exception-Code"] == "60"
    assert r.text.startswith("Code: 60. DB::Exception: ")
    assert "(UNKNOWN_TABLE)" in r.text
    r = requests.post(url, data=b"SELEC 1")
    assert r.status_code == 400 and r.headers["X-ClickHouse-Exception-Code"] == "62"
    r = requests.post(url, data=b"SELECT throwIf(1, 'boom')")
    assert r.status_code == 500 and "boom" in r.text
    r = requests.post(url, data=b"SELECT 1", headers={"Content-Encoding": "snappy-ish"})
    assert r.headers["X-ClickHouse-Exception-Code"] == "89"


def test_summary_header_counts(url, table):
    r = ok(url, f"INSERT INTO {table} SELECT number, 'x' FROM numbers(321)")
    assert json.loads(r.headers["X-ClickHouse-Summary"])["written_rows"] == "321"
    r = ok(url, f"SELECT count() FROM {table} WHERE name = 'x'", wait_end_of_query="1")
    assert json.loads(r.headers["X-ClickHouse-Summary"])["read_rows"] == "321"


def test_get_is_read_only(url, table):
    r = requests.get(url, params={"query": f"INSERT INTO {table} VALUES (1, 'a')"})
    assert r.headers["X-ClickHouse-Exception-Code"] == "164"


def test_wrong_password_is_refused_without_echoing_it(url):
    r = requests.post(url, data=b"SELECT 1", auth=("default", "s3cr3t-value"))
    assert r.status_code == 403
    assert r.headers["X-ClickHouse-Exception-Code"] == "516"
    assert "s3cr3t-value" not in r.text


def test_readonly_user_reads_but_cannot_write(url, table, embedded_only):
    bi = ("bi", "funnelhouse_bi")
    ok(url, "CREATE DATABASE IF NOT EXISTS marts")  # bi may read marts only
    table = f"marts.{table.split('.')[1]}"
    ok(url, f"CREATE TABLE {table} (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
    ok(url, f"INSERT INTO {table} VALUES (1, 'a')")
    assert requests.post(url, data=f"SELECT count() FROM {table}".encode(), auth=bi).text == "1\n"
    for attempt in (
        f"INSERT INTO {table} VALUES (2, 'b')",
        f"DROP TABLE {table}",
        f"CREATE TABLE {table}_copy AS {table}",
        "SET readonly = 0",
    ):
        r = requests.post(url, data=attempt.encode(), auth=bi)
        assert r.headers.get("X-ClickHouse-Exception-Code") == "164", (attempt, r.text)
        assert "readonly" in r.text.lower()
    # Lifting readonly through the URL or a session does not work either.
    r = requests.post(url, params={"readonly": "0"}, data=b"SELECT 1", auth=bi)
    assert r.headers.get("X-ClickHouse-Exception-Code") == "164"
    sid = uuid.uuid4().hex
    r = requests.post(url, params={"session_id": sid}, data=b"SET readonly = 0", auth=bi)
    assert r.headers.get("X-ClickHouse-Exception-Code") == "164"
    r = requests.post(url, params={"session_id": sid},
                      data=f"INSERT INTO {table} VALUES (3, 'c')".encode(), auth=bi)  # fmt: skip
    assert r.headers.get("X-ClickHouse-Exception-Code") == "164"
    assert ok(url, f"SELECT count() FROM {table}").text == "1\n"


def _hammer(args: tuple[str, str, int]) -> int:
    url, table, worker = args
    session = requests.Session()
    for i in range(20):
        rows = "".join(f"{worker * 1000 + i * 10 + j}\tw{worker}\n" for j in range(10))
        r = session.post(url, params={"query": f"INSERT INTO {table} FORMAT TabSeparated"},
                         data=rows.encode(), timeout=60)  # fmt: skip
        r.raise_for_status()
        r = session.post(url, data=f"SELECT count() FROM {table}".encode(), timeout=60)
        r.raise_for_status()
    return worker


def test_concurrent_clients_from_several_processes(url, table):
    with ProcessPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(_hammer, [(url, table, w) for w in range(6)], timeout=300))
    assert sorted(done) == list(range(6))
    r = ok(url, f"SELECT count(), uniqExact(id), uniqExact(name) FROM {table}")
    assert r.text == "1200\t1200\t6\n"


def test_data_survives_restart_and_shutdown_is_clean(tmp_path, embedded_only):
    server = EmbeddedServer(tmp_path, free_port())
    server.start()
    try:
        ok(server.url, "CREATE DATABASE keep")
        ok(server.url, "CREATE TABLE keep.t (x UInt64) ENGINE = MergeTree ORDER BY x")
        ok(server.url, "INSERT INTO keep.t SELECT number FROM numbers(1000)")
        # A second endpoint on the same data directory refuses instead of corrupting it.
        second = subprocess.run(
            [sys.executable, "-m", "funnelhouse.cli", "warehouse", "serve",
             "--port", str(free_port()), "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert "in use by another" in " ".join(second.stderr.split())
        assert server.stop() == 0
        server.start()
        assert ok(server.url, "SELECT count(), sum(x) FROM keep.t").text == "1000\t499500\n"
        assert server.stop() == 0
    finally:
        server.stop()
