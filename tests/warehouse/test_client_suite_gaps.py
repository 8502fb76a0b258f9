"""Gaps the clients' own suites (`make compat`) found in the endpoint, each through raw HTTP and
clickhouse-connect: SQL users, WITH before an INSERT with data, a slow result that streams before
it fails, compressed error bodies, literals the AST reader once split into two statements,
...WithProgress results that stream, and several statements in one query."""

from __future__ import annotations

import gzip
import hashlib
import json

import clickhouse_connect
import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError, StreamFailureError

from funnelhouse.warehouse.settings import WarehouseSettings

TIMEOUT = 120


@pytest.fixture
def url(warehouse: WarehouseSettings) -> str:
    return f"http://{warehouse.host}:{warehouse.port}/"


@pytest.fixture
def client(warehouse: WarehouseSettings):
    c = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    yield c
    c.close()


def test_create_user_logs_in_and_reads_no_database_until_dropped(url, client):
    digest = hashlib.sha256(b"s3cret").hexdigest()
    create = f"CREATE USER IF NOT EXISTS 'suite_user' IDENTIFIED WITH sha256_hash BY '{digest}'"
    client.command(create)
    client.command(create)  # IF NOT EXISTS: no error the second time
    with pytest.raises(DatabaseError, match="ACCESS_ENTITY_ALREADY_EXISTS"):
        client.command("CREATE USER suite_user")
    r = requests.post(url, auth=("suite_user", "s3cret"), data="SELECT currentUser()")
    assert r.status_code == 200 and r.text == "suite_user\n", r.text
    r = requests.post(url, auth=("suite_user", "s3cret"), data="SELECT * FROM raw.nothing")
    assert r.headers["X-ClickHouse-Exception-Code"] == "497", r.text  # no grants
    r = requests.post(url, auth=("suite_user", "wrong"), data="SELECT 1")
    assert r.headers["X-ClickHouse-Exception-Code"] == "516", r.text
    r = requests.post(url, auth=("bi", "funnelhouse_bi"), data="DROP USER suite_user")
    assert r.headers["X-ClickHouse-Exception-Code"] == "164", r.text
    client.command("DROP USER 'suite_user'")
    r = requests.post(url, auth=("suite_user", "s3cret"), data="SELECT 1")
    assert r.headers["X-ClickHouse-Exception-Code"] == "516", r.text
    with pytest.raises(DatabaseError, match="UNKNOWN_USER"):
        client.command("DROP USER suite_user")
    client.command("DROP USER IF EXISTS suite_user")
    r = requests.post(url, data="DROP USER default", timeout=TIMEOUT)
    assert r.headers["X-ClickHouse-Exception-Code"] == "495", r.text
    r = requests.post(url, data="CREATE USER other HOST ANY", timeout=TIMEOUT)
    assert r.headers["X-ClickHouse-Exception-Code"] == "48" and "HOST" in r.text, r.text


def test_with_clause_before_an_insert_with_data(url, client):
    client.command("CREATE TABLE IF NOT EXISTS default.with_insert (s String) ENGINE = Memory")
    client.command("TRUNCATE TABLE default.with_insert")
    body = "WITH {n:Int32} AS v INSERT INTO default.with_insert (s) FORMAT TabSeparated\nrow_1;\n"
    r = requests.post(url, params={"param_n": "13"}, data=body, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    client.query("WITH 1 AS y INSERT INTO default.with_insert (s) FORMAT TabSeparated\nrow_2;\n")
    rows = client.query("SELECT s FROM default.with_insert ORDER BY s").result_rows
    assert rows == [("row_1;",), ("row_2;",)]
    # The WITH clause is checked too: a file outside user_files stays out of reach.
    body = ("WITH (SELECT count() FROM file('/etc/passwd')) AS y "
            "INSERT INTO default.with_insert (s) FORMAT TabSeparated\nrow_3\n")  # fmt: skip
    r = requests.post(url, data=body, timeout=TIMEOUT)
    assert r.headers["X-ClickHouse-Exception-Code"] == "291", r.text


SLOW_THEN_FAILS = "SELECT sleepEachRow(0.01), throwIf(number = 100) FROM numbers(200)"


def test_a_slow_result_streams_and_a_later_error_ends_it(url, client):
    # 100 rows a block each, 10 ms apart: the first block goes out long before the error.
    r = requests.post(url, params={"max_block_size": "1"}, data=SLOW_THEN_FAILS, timeout=TIMEOUT)
    assert r.status_code == 200 and "__exception__" in r.text, r.text[:200]
    assert r.text.startswith("0\t0\n"), r.text[:200]
    settings = {"max_block_size": 1, "wait_end_of_query": 0}
    with (
        pytest.raises(StreamFailureError, match="throwIf"),
        client.query_rows_stream(SLOW_THEN_FAILS, settings=settings) as stream,
    ):
        for _ in stream:
            pass
    # A query that fails at once keeps its error status.
    r = requests.post(url, data="SELECT throwIf(1)", timeout=TIMEOUT)
    assert r.status_code != 200 and r.headers["X-ClickHouse-Exception-Code"] == "395", r.text


def test_error_body_is_compressed_as_the_result_would_be(url, client):
    params = {"enable_http_compression": "1"}
    r = requests.post(url, params=params, data="invalid", stream=True, timeout=TIMEOUT,
                      headers={"Accept-Encoding": "gzip"})  # fmt: skip
    assert r.headers["Content-Encoding"] == "gzip"
    assert b"Syntax error" in gzip.decompress(r.raw.read()), r.headers
    with pytest.raises(DatabaseError, match="SYNTAX_ERROR"):
        client.query("invalid")


def test_literal_with_control_characters_is_one_statement(url, client):
    # Python's splitlines() would split the AST line of this literal at \x1c and \x85.
    data = b"col\n\x1c\xc2\x85v"
    r = requests.post(url, data=b"SELECT length($x$" + data + b"$x$)", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == f"{len(data)}\n", r.text
    result = client.query("SELECT length($b$)", parameters={"$b$": data}).result_rows
    assert result == [(len(data),)]


def test_with_progress_formats_stream_with_one_meta_and_a_closing_progress_row(url, client):
    sql = "SELECT number FROM numbers(3) FORMAT JSONEachRowWithProgress"
    r = requests.post(url, params={"max_block_size": "1"}, data=sql, timeout=TIMEOUT)
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert rows[0] == {"meta": [{"name": "number", "type": "UInt64"}]}
    assert [row for row in rows if "row" in row] == [{"row": {"number": n}} for n in range(3)]
    assert sum("meta" in row for row in rows) == 1
    assert rows[-1]["progress"]["read_rows"] == "3"
    # The closing row counts every row read, also those read after the last chunk was cut.
    sql = (
        "SELECT number FROM numbers(200000) WHERE number % 1000 = 0 FORMAT JSONEachRowWithProgress"
    )
    r = requests.post(url, params={"max_block_size": "1000"}, data=sql, timeout=TIMEOUT)
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert sum("row" in row for row in rows) == 200
    assert rows[-1]["progress"]["read_rows"] == "200000"
    # A slow result fails after its first rows went out: 200, then the tagged exception.
    slow = ("SELECT toInt32(number) AS n, throwIf(number = 10, 'boom') AS e, sleepEachRow(0.02) "
            "FROM system.numbers LIMIT 100 FORMAT JSONEachRowWithProgress")  # fmt: skip
    r = requests.post(url, params={"max_block_size": "1"}, data=slow, timeout=TIMEOUT)
    assert r.status_code == 200 and "__exception__" in r.text and "boom" in r.text, r.text
    raw = client.raw_query("SELECT number FROM numbers(2)", fmt="JSONCompactEachRowWithProgress")
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    assert [row["row"] for row in lines if "row" in row] == [[0], [1]]
    assert "progress" in lines[-1]


def test_several_statements_in_one_query_are_a_syntax_error(url, client):
    r = requests.post(url, data="SET log_comment = 'x'; SELECT 1", timeout=TIMEOUT)
    assert r.status_code == 400 and r.headers["X-ClickHouse-Exception-Code"] == "62", r.text
    assert "Multi-statements are not allowed" in r.text
    with pytest.raises(DatabaseError, match="Multi-statements"):
        client.query("SELECT 1; SELECT 2")
    assert client.query("SELECT 1;").result_rows == [(1,)]  # one statement and its semicolon
    # chDB would run the second statement inside the endpoint's own EXPLAIN: it never gets there.
    r = requests.post(url, data="SELECT 1; CREATE TABLE default.made_by_check (a Int8) "
                      "ENGINE = Memory", timeout=TIMEOUT)  # fmt: skip
    assert r.headers["X-ClickHouse-Exception-Code"] == "62", r.text
    assert client.command("EXISTS TABLE default.made_by_check") == 0
    # A semicolon inside a string or a heredoc is no second statement.
    r = requests.post(url, data="SELECT ';', $h$a;b$h$ -- c; d", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == ";\ta;b\n", r.text
