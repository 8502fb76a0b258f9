"""Issue 19: request shapes a ClickHouse server accepts that clients' own suites send, each
through raw HTTP and through clickhouse-connect where the client can send it."""

from __future__ import annotations

import gzip
import json
import struct
import uuid

import clickhouse_connect
import lz4.block
import pyarrow as pa
import pytest
import requests
import zstandard
from clickhouse_connect.driver.exceptions import DatabaseError, Error
from clickhouse_connect.driver.external import ExternalData

from funnelhouse.warehouse.settings import WarehouseSettings

TIMEOUT = 120
BI = ("bi", "funnelhouse_bi")


@pytest.fixture
def url(warehouse: WarehouseSettings) -> str:
    return f"http://{warehouse.host}:{warehouse.port}/"


def test_multipart_form_fields_carry_the_query_and_its_parameters(url, warehouse):
    form = {"query": (None, "SELECT {x:UInt8} + 1, {s:String}"), "param_x": (None, "41"),
            "param_s": (None, "form")}  # fmt: skip
    r = requests.post(url, files=form, timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == "42\tform\n", r.text
    # A URL parameter wins over a form field of the same name, as on a server.
    r = requests.post(url, params={"param_x": "1"}, files=form, timeout=TIMEOUT)
    assert r.text == "2\tform\n", r.text
    client = clickhouse_connect.get_client(
        host=warehouse.host, port=warehouse.port, form_encode_query_params=True
    )
    try:
        rows = client.query("SELECT {a:String} || '!'", parameters={"a": "hey"}).result_rows
        assert rows == [("hey!",)]
    finally:
        client.close()


def test_external_tables_are_temporary_tables_of_the_query(url, warehouse):
    csv = {"ext": ("ext.csv", b"1,a\n2,b\n")}
    params = {"query": "SELECT sum(id), max(s) FROM ext", "ext_structure": "id UInt32, s String",
              "ext_format": "CSV"}  # fmt: skip
    r = requests.post(url, params=params, files=csv, timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == "3\tb\n", r.text
    params = {"query": "SELECT sum(_1), max(_2) FROM ext", "ext_types": "UInt32,String"}
    r = requests.post(url, params=params, files={"ext": ("e.tsv", b"1\ta\n5\tb\n")})
    assert r.text == "6\tb\n", r.text
    r = requests.post(url, params={"query": "SELECT * FROM ext"}, files={"ext": ("e", b"1\n")})
    assert r.status_code == 400 and r.headers["X-ClickHouse-Exception-Code"] == "36", r.text
    # bi may read the table it sent, and still nothing outside marts.
    params = {"query": "SELECT count() FROM ext", "ext_structure": "x UInt8"}
    r = requests.post(url, params=params, files={"ext": ("e", b"1\n2\n")}, auth=BI)
    assert r.text == "2\n", r.text
    # In a session the table lives for its request only.
    sid = uuid.uuid4().hex
    r = requests.post(url, params={**params, "session_id": sid}, files={"ext": ("e", b"1\n")})
    assert r.text == "1\n", r.text
    r = requests.post(url, params={"session_id": sid}, data=b"EXISTS TEMPORARY TABLE ext")
    assert r.text == "0\n", r.text

    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        data = ExternalData(data=b"1,a\n2,b\n", file_name="t.csv", fmt="CSV",
                            structure="id UInt32, s String")  # fmt: skip
        assert client.query("SELECT sum(id) FROM t", external_data=data).result_rows == [(3,)]
        rows = client.query("SELECT s FROM t WHERE id > {m:UInt32}", parameters={"m": 1},
                            external_data=data).result_rows  # fmt: skip
        assert rows == [("b",)]
    finally:
        client.close()


FAILS_MID_STREAM = "SELECT throwIf(number = 3000000, 'boom mid-stream') FROM numbers(5000000)"


def test_an_exception_mid_stream_ends_the_body_with_the_tagged_block(url, warehouse):
    r = requests.post(url, params={"max_block_size": "1000"}, data=FAILS_MID_STREAM)
    assert r.status_code == 200  # the headers went out with the first rows
    tag = r.headers["X-ClickHouse-Exception-Tag"]
    assert len(tag) == 16 and tag.isalnum()
    head, marker, block = r.content.partition(b"__exception__\r\n" + tag.encode() + b"\r\n")
    assert marker and head.startswith(b"0\n0\n"), r.content[-500:]
    text, _, footer = block.partition(b"\n")
    assert text.startswith(b"Code: 395. DB::Exception:") and b"boom mid-stream" in text
    # The length counts the text's newline: the JS client reads the text back from it.
    assert footer == f"{len(text) + 1} {tag}\r\n__exception__\r\n".encode()

    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        with pytest.raises(Error, match="boom mid-stream"):
            client.query(FAILS_MID_STREAM, settings={"max_block_size": 1000})
    finally:
        client.close()


def test_a_query_that_is_not_utf8_runs_as_on_a_server(url):
    """String literals may hold any bytes; the query text is passed on as sent. (Raw HTTP only:
    clickhouse-connect takes query text as str.)"""
    r = requests.post(url, data=b"SELECT '\xff\xfeab' AS s, length(s), hex(s)")
    assert r.status_code == 200 and r.content == b"\xff\xfeab\t4\tFFFE6162\n", r.content
    r = requests.post(url + "?query=SELECT+%27%FF%27+AS+s,+hex(s)")
    assert r.status_code == 200 and r.content == b"\xff\tFF\n", r.content
    r = requests.post(url, data=b"SELECT \xff")  # not a token: the parser's error, not Python's
    assert r.status_code == 400 and r.headers["X-ClickHouse-Exception-Code"] == "62", r.content


def test_url_settings_are_parsed_by_the_settings_type(url, warehouse):
    """A server parses each URL setting from its text: a number for a String setting is text."""
    sql = (
        "SELECT getSetting('log_comment'), getSetting('max_block_size'), "
        "getSetting('join_use_nulls')"
    )
    params = {"log_comment": "123", "max_block_size": "777", "join_use_nulls": "true"}
    r = requests.post(url, params=params, data=sql)
    assert r.status_code == 200 and r.text == "123\t777\ttrue\n", r.text
    r = requests.post(url, params={"max_block_size": "x"}, data="SELECT 1")
    assert r.headers.get("X-ClickHouse-Exception-Code") == "27", r.text  # the engine parsed it

    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        rows = client.query("SELECT getSetting('log_comment')", settings={"log_comment": 42})
        assert rows.result_rows == [("42",)]
    finally:
        client.close()


ARROW_SQL = "SELECT number, toString(number) AS s FROM numbers(1000000)"


def test_an_arrow_stream_carries_a_batch_per_block(url, warehouse):
    r = requests.post(
        url, params={"max_block_size": "100000"}, data=ARROW_SQL + " FORMAT ArrowStream"
    )
    batches = list(pa.ipc.open_stream(r.content))
    assert len(batches) == 10 and sum(b.num_rows for b in batches) == 1_000_000
    assert batches[-1].column(0)[-1].as_py() == 999_999

    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        with client.query_arrow_stream(ARROW_SQL, settings={"max_block_size": 100000}) as stream:
            sizes = [batch.num_rows for batch in stream]
        assert len(sizes) > 1 and sum(sizes) == 1_000_000
    finally:
        client.close()


def _block(method: int, data: bytes, size: int | None = None) -> bytes:
    """One block of ClickHouse's compression format (checksum left zero: not verified)."""
    if method == 0x82:
        payload = lz4.block.compress(data, store_size=False)
    elif method == 0x90:
        payload = zstandard.ZstdCompressor().compress(data)
    else:
        payload = data
    header = struct.pack("<BII", method, len(payload) + 9, len(data) if size is None else size)
    return bytes(16) + header + payload


def test_bodies_in_clickhouse_block_compression_are_read_with_decompress_1(url):
    table = f"default.fh_blocks_{uuid.uuid4().hex[:8]}"
    requests.post(url, data=f"CREATE TABLE {table} (n UInt32, s String) ENGINE = Memory")
    try:
        rows = b"".join(b"%d\trow%d\n" % (i, i) for i in range(100_000))
        half = rows.index(b"\n", len(rows) // 2) + 1
        body = _block(0x82, rows[:half]) + _block(0x90, rows[half:]) + _block(0x02, b"")
        params = {"query": f"INSERT INTO {table} FORMAT TSV", "decompress": "1"}
        r = requests.post(url, params=params, data=body, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        query = _block(0x82, f"SELECT count(), sum(n) FROM {table}".encode())
        r = requests.post(url, params={"decompress": "1"}, data=query, timeout=TIMEOUT)
        assert r.text == f"100000\t{sum(range(100_000))}\n", r.text
        forged = _block(0x02, b"x")[:21] + struct.pack("<I", 1 << 30) + b"x"
        r = requests.post(url, params={"decompress": "1"}, data=forged, timeout=TIMEOUT)
        assert r.headers["X-ClickHouse-Exception-Code"] == "39", r.text
    finally:
        requests.post(url, data=f"DROP TABLE {table}")


TOTALS_SQL = (
    "SELECT number % 2 AS k, count() AS c FROM numbers(10) GROUP BY k WITH TOTALS ORDER BY k"
)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("CSV", "text/csv; charset=UTF-8; header=absent"),
        ("CSVWithNames", "text/csv; charset=UTF-8; header=present"),
        ("JSONEachRow", "application/x-ndjson; charset=UTF-8"),
        ("JSON", "application/json; charset=UTF-8"),
        ("TabSeparated", "text/tab-separated-values; charset=UTF-8"),
        ("Native", "application/octet-stream"),
    ],
)
def test_content_type_names_the_format_as_a_server_does(url, fmt, expected):
    r = requests.post(url, data=f"SELECT 1 AS x FORMAT {fmt}", timeout=TIMEOUT)
    assert r.headers["Content-Type"] == expected


def test_totals_statistics_and_progress_rows_come_with_the_result(url, warehouse):
    doc = requests.post(url, data=TOTALS_SQL + " FORMAT JSON", timeout=TIMEOUT).json()
    assert doc["totals"] == {"k": 0, "c": 10}
    assert doc["statistics"]["rows_read"] == 10 and doc["rows"] == 2
    lines = requests.post(url, data=TOTALS_SQL + " FORMAT JSONEachRowWithProgress").text
    rows = [json.loads(line) for line in lines.splitlines()]
    assert {"totals": {"k": 0, "c": 10}} in rows
    progress = [row["progress"] for row in rows if "progress" in row]
    assert progress and progress[-1]["read_rows"] == "10"
    tsv = requests.post(url, data=TOTALS_SQL + " FORMAT TSV", timeout=TIMEOUT).text
    assert tsv == "0\t5\n1\t5\n\n0\t10\n"

    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        raw = client.raw_query(TOTALS_SQL, fmt="JSON")
        assert json.loads(raw)["totals"] == {"k": 0, "c": 10}
    finally:
        client.close()


CORRUPT_BODIES = {
    "gzip-crc-mismatch": ("gzip", gzip.compress(b"SELECT 1")[:-6] + b"xxxxxx", "354"),
    "gzip-cut-short": ("gzip", gzip.compress(b"SELECT 1")[:12], "354"),
    "deflate": ("deflate", b"not deflate", "354"),
    "zstd": ("zstd", b"not zstd at all", "561"),
    "lz4": ("lz4", b"not an lz4 frame", "618"),
}


# Named ids: gzip's header holds the time, and parallel workers must collect the same tests.
@pytest.mark.parametrize(
    ("encoding", "body", "code"), CORRUPT_BODIES.values(), ids=CORRUPT_BODIES.keys()
)
def test_a_corrupt_compressed_body_is_a_bad_request(url, warehouse, encoding, body, code):
    r = requests.post(url, data=body, headers={"Content-Encoding": encoding}, timeout=TIMEOUT)
    assert r.status_code == 400 and r.headers["X-ClickHouse-Exception-Code"] == code, r.text

    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        with pytest.raises(DatabaseError) as raised:
            client.raw_insert("system.one", None, body, fmt="TSV", compression=encoding)
        assert str(raised.value.code) == code
    finally:
        client.close()


def test_an_engine_error_quoting_bytes_that_are_not_utf8_keeps_its_code(url):
    r = requests.post(url, data=b"SELECT * FROM file('\xff-missing', 'LineAsString')")
    assert r.headers["X-ClickHouse-Exception-Code"] != "1001", r.content
    assert b"STD_EXCEPTION" not in r.content and b"codec" not in r.content, r.content
