"""Issue 15, access control: each attack on the embedded endpoint is refused with the error code
a ClickHouse server gives, through raw HTTP and through clickhouse-connect."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import psutil
import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.conftest import EmbeddedServer, free_port
from tests.warehouse.attempts import VIAS, Attempt, attempts

BI = ("bi", "funnelhouse_bi")
TIMEOUT = 120


def post(url: str, sql: str, auth=None, **params) -> requests.Response:
    return requests.post(url, params=params, data=sql.encode(), auth=auth, timeout=TIMEOUT)


def code(r: requests.Response) -> str | None:
    return r.headers.get("X-ClickHouse-Exception-Code")


def ok(url: str, sql: str, **params) -> str:
    r = post(url, sql, **params)
    assert r.status_code == 200, r.text
    return r.text


@pytest.fixture
def url(embedded_only: EmbeddedServer) -> str:
    return embedded_only.url


@pytest.fixture(params=VIAS)
def attempt(request, embedded_only: EmbeddedServer) -> Iterator[Attempt]:
    """Runs a statement through raw HTTP, then (second parameter) through clickhouse-connect."""
    with attempts(request.param, embedded_only.port) as run:
        yield run


@pytest.fixture
def bi_client(embedded_only: EmbeddedServer):
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=embedded_only.port, username=BI[0], password=BI[1]
    )
    yield client
    client.close()


@pytest.fixture
def marts(url: str) -> dict[str, str]:
    """A plain mart table, a mart view over a versioned table in another database, and raw."""
    tag = uuid.uuid4().hex[:8]
    store, raw = f"marts_store_{tag}", f"raw_{tag}"
    for db in ("marts", store, raw):
        ok(url, f"CREATE DATABASE IF NOT EXISTS {db}")
    names = {"table": f"marts.t_{tag}", "view": f"marts.v_{tag}", "raw": f"{raw}.people"}
    ok(url, f"CREATE TABLE {names['table']} (x UInt8) ENGINE = MergeTree ORDER BY x")
    ok(url, f"INSERT INTO {names['table']} VALUES (1), (2)")
    ok(url, f"CREATE TABLE {store}.v1 (x UInt8) ENGINE = MergeTree ORDER BY x")
    ok(url, f"INSERT INTO {store}.v1 VALUES (7)")
    ok(url, f"CREATE VIEW {names['view']} AS SELECT x FROM {store}.v1")
    ok(url, f"CREATE TABLE {names['raw']} (email String) ENGINE = MergeTree ORDER BY email")
    ok(url, f"INSERT INTO {names['raw']} VALUES ('a@example.com')")
    yield names | {"store": store, "raw_db": raw}
    for obj in (names["table"], names["view"]):
        ok(url, f"DROP TABLE IF EXISTS {obj}")
    ok(url, f"DROP DATABASE {store}")
    ok(url, f"DROP DATABASE {raw}")


# Each statement with the code `default` gets: file reads outside user_files are refused as a
# server refuses them (DATABASE_ACCESS_DENIED), everything else is ACCESS_DENIED.
OUTSIDE_USER_FILES = "291"
HOST_ESCAPES = [
    ("SELECT count() FROM file('/etc/passwd', 'LineAsString')", OUTSIDE_USER_FILES),
    ("SELECT count() FROM FiLe('/etc/passwd', 'LineAsString') /* comment */", OUTSIDE_USER_FILES),
    ("SELECT count() FROM /* x */ `file`('/etc/passwd', 'LineAsString')", OUTSIDE_USER_FILES),
    ("SELECT count() FROM file('../../../../../../etc/passwd', 'LineAsString')",
     OUTSIDE_USER_FILES),
    ("SELECT file('/etc/passwd')", OUTSIDE_USER_FILES),
    ("SELECT count() FROM file('/etc/pass' || 'wd', 'LineAsString')", "497"),
    ("SELECT * FROM fileCluster('default', '/etc/passwd', 'LineAsString')", "497"),
    ("SELECT * FROM url('file:///etc/passwd', 'LineAsString', 'x String')", "497"),
    ("SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString', 'x String')", "497"),
    ("SELECT * FROM s3('http://127.0.0.1:1/b/k.csv', 'CSV', 'x String')", "497"),
    ("SELECT * FROM remote('127.0.0.1:1', system.one)", "497"),
    ("SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')", "497"),
    ("SELECT * FROM postgresql('127.0.0.1:1', 'd', 't', 'u', 'p')", "497"),
    ("SELECT * FROM mongodb('127.0.0.1:1', 'd', 't', 'u', 'p', 'x String')", "497"),
    ("SELECT * FROM executable('cat /etc/passwd', 'TSV', 'x String')", "497"),
    ("SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'TSV', 'x String')", "497"),
    ("SELECT * FROM azureBlobStorage('http://127.0.0.1:1/a', 'c', 'b')", "497"),
    ("SELECT * FROM iceberg('http://127.0.0.1:1/t/')", "497"),
    ("INSERT INTO FUNCTION file('/tmp/fh_pwned', 'TSV', 'x String') VALUES ('pwned')", "497"),
    ("INSERT INTO FUNCTION file('fh_pwned', 'TSV', 'x String') VALUES ('pwned')", "497"),
    ("SELECT 1 INTO OUTFILE '/tmp/fh_pwned_outfile'", "497"),
    ("INSERT INTO default.fh_infile FROM INFILE '/etc/passwd' FORMAT LineAsString", "497"),
    ("CREATE TABLE default.fh_u (x String) ENGINE = URL('http://127.0.0.1:1/', 'TSV')", "497"),
    ("CREATE TABLE default.fh_f (x String) ENGINE = File(TSV, '/etc/passwd')", "497"),
    ("CREATE DICTIONARY default.fh_d (x UInt64) PRIMARY KEY x "
     "SOURCE(HTTP(url 'http://127.0.0.1:1/' format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)", "497"),
    ("CREATE DICTIONARY default.fh_m (x UInt64) PRIMARY KEY x SOURCE(MYSQL(host '127.0.0.1' "
     "port 1 user 'u' password 'p' db 'd' table 't')) LAYOUT(FLAT()) LIFETIME(0)", "497"),
    # chDB's default database reads a host file named as a table; a server knows no such table.
    ("SELECT count() FROM `/etc/passwd`", "60"),
    ("SELECT count() FROM default.`/etc/passwd`", "60"),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "default_code"), HOST_ESCAPES)
@pytest.mark.parametrize("auth", [BI, None], ids=["bi", "default"])
def test_file_and_network_access_is_refused(attempt, sql, default_code, auth):
    error, text = attempt(sql, auth)
    if auth is None:
        refused = {default_code}
    elif default_code == "60":
        refused = {"60"}
    elif sql.startswith(("INSERT", "CREATE")):
        refused = {"497", "164"}  # bi is readonly first
    else:
        refused = {"497"}
    assert error in refused, text
    assert not Path("/tmp/fh_pwned").exists() and not Path("/tmp/fh_pwned_outfile").exists()


def test_unknown_table_is_not_read_as_a_host_file(url):
    r = post(url, "SELECT * FROM `/etc/passwd`")
    assert r.status_code == 404 and code(r) == "60", r.text


def test_bi_reads_marts_tables_and_views_only(url, marts, bi_client, attempt):
    assert post(url, f"SELECT sum(x) FROM {marts['table']}", auth=BI).text == "3\n"
    assert post(url, f"SELECT x FROM {marts['view']}", auth=BI).text == "7\n"
    t = marts["table"].split(".")[1]
    assert post(url, f"SELECT count() FROM {t}", auth=BI).text == "2\n"  # starts in marts
    for sql in (
        f"SELECT * FROM {marts['raw']}",
        f"SELECT * FROM {marts['store']}.v1",
        f"SELECT 1 WHERE 'a' IN {marts['raw']}",
        f"SELECT * FROM (SELECT * FROM {marts['raw_db']}.`people`) -- {marts['table']}",
        f"DESCRIBE {marts['raw']}",
        f"SHOW CREATE TABLE {marts['raw']}",
        f"SHOW TABLES FROM {marts['raw_db']}",
        f"SELECT * FROM merge('{marts['raw_db']}', '.*')",
        "SELECT * FROM system.query_log",
        f"USE {marts['raw_db']}",
    ):
        error, text = attempt(sql, BI)
        assert error == "497", (sql, text)
    # The `database` parameter (clickhouse-connect sets it only when connecting).
    r = post(url, "SELECT 1", auth=BI, database=marts["raw_db"])
    assert code(r) in ("497", "81"), r.text
    r = post(url, f"SELECT * FROM {t}", auth=BI, database=marts["raw_db"])
    assert code(r) == "497", r.text
    with pytest.raises(DatabaseError, match="497"):
        bi_client.query(f"SELECT * FROM {marts['raw']}")
    assert bi_client.query(f"SELECT x FROM {marts['view']}").result_rows == [(7,)]


def test_bi_reflection_lists_only_its_databases(url, marts, bi_client):
    sql = "SELECT DISTINCT database FROM system.tables ORDER BY database"
    shown = set(post(url, sql, auth=BI).text.split())
    assert "marts" in shown and marts["raw_db"] not in shown and marts["store"] not in shown
    assert marts["raw_db"] in set(ok(url, sql).split())
    dbs = {r[0] for r in bi_client.query("SELECT name FROM system.databases").result_rows}
    assert "marts" in dbs and marts["raw_db"] not in dbs
    cols = bi_client.query("SELECT count() FROM system.columns WHERE database = {d:String}",
                           parameters={"d": marts["raw_db"]}).result_rows  # fmt: skip
    assert cols == [(0,)]
    r = post(url, "SELECT 1 SETTINGS additional_table_filters = {}", auth=BI)
    assert code(r) == "497"


def test_current_user_and_errors_name_the_real_user(url, marts, bi_client):
    assert post(url, "SELECT currentUser(), user()", auth=BI).text == "bi\tbi\n"
    assert bi_client.command("SELECT currentUser()") == "bi"
    assert ok(url, "SELECT currentUser()") == "default\n"
    r = post(url, f"SELECT * FROM {marts['raw']}", auth=BI)
    assert r.text.startswith("Code: 497. DB::Exception: bi:"), r.text


def test_cross_site_requests_are_refused(url, embedded_only, attempt):
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    error, text = attempt("CREATE DATABASE fh_csrf", None, evil)
    assert error == "497" and "Origin" in text, text
    assert "fh_csrf" not in ok(url, "SHOW DATABASES").split()
    same = {"Origin": f"http://127.0.0.1:{embedded_only.port}"}
    error, text = attempt("SELECT 1", None, same)
    assert error is None and text.strip() == "1", text


@pytest.mark.parametrize(
    "header", ["Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(), "Bearer x"]
)
def test_a_malformed_authorization_header_is_refused(attempt, header):
    error, text = attempt("SELECT currentUser()", None, {"Authorization": header})
    assert error == "516", text


def test_get_in_a_session_cannot_write(url, marts):
    """HTTP only: clickhouse-connect never sends GET requests."""
    sid = uuid.uuid4().hex
    ok(url, "SELECT 1", session_id=sid)
    r = requests.get(url, params={"session_id": sid,
                                  "query": f"INSERT INTO {marts['table']} VALUES (9)"},
                     timeout=TIMEOUT)  # fmt: skip
    assert code(r) == "164", r.text
    assert ok(url, f"SELECT count() FROM {marts['table']}") == "2\n"


def _serve(data_dir: Path, port: int, host: str, users: Path | None) -> subprocess.Popen:
    args = [sys.executable, "-m", "funnelhouse.cli", "warehouse", "serve", "--host", host,
            "--port", str(port), "--data-dir", str(data_dir)]  # fmt: skip
    if users is not None:
        args += ["--users-file", str(users)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _non_loopback_address() -> str | None:
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name == "AF_INET" and not a.address.startswith("127."):
                return a.address
    return None


def test_default_needs_a_password_beyond_loopback_and_stays_loopback_only(tmp_path):
    proc = _serve(tmp_path / "a", free_port(), "0.0.0.0", None)
    out, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode != 0 and "password_sha256_hex" in out, out
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback address to connect from")
    users = tmp_path / "users.toml"
    users.write_text(
        "[users.default]\n"
        'password_sha256_hex = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"\n'
        'networks = ["127.0.0.0/8"]\n'
    )  # password: secret
    server = EmbeddedServer(tmp_path / "b", free_port())
    server.proc = _serve(server.data_dir, server.port, "0.0.0.0", users)
    try:
        from funnelhouse.warehouse.embedded.process import ping

        while not ping(server.url):
            assert server.proc.poll() is None, server.proc.stdout.read()
        r = requests.post(f"http://{address}:{server.port}/", data=b"CREATE DATABASE fh_remote",
                          auth=("default", "secret"), timeout=TIMEOUT)  # fmt: skip
        assert r.status_code == 403 and code(r) == "516", r.text
        r = requests.post(server.url, data=b"SELECT 1", auth=("default", "secret"))
        assert r.text == "1\n"
        with pytest.raises(DatabaseError, match="516"):
            clickhouse_connect.get_client(host=address, port=server.port, username="default",
                                          password="secret")  # fmt: skip
    finally:
        server.stop()


@pytest.mark.parametrize("engine", ["Atomic", "Memory"])
def test_databases_with_local_engines_can_be_created(url, engine):
    """dbt-clickhouse creates its schemas with `ENGINE = Atomic`: a local engine, not a source."""
    db = f"fh_engine_{engine.lower()}_{uuid.uuid4().hex[:6]}"
    ok(url, f"CREATE DATABASE IF NOT EXISTS {db} ENGINE = {engine}")
    ok(url, f"DROP DATABASE {db}")


@pytest.mark.parametrize("payload", [
    ") UNION ALL SELECT 'log_comment', (SELECT any(email) FROM {raw}), 1 --",
    ") ; DROP TABLE {raw} --",
])  # fmt: skip
def test_a_url_setting_name_is_no_sql(url, marts, payload):
    """A session request's URL settings once reached SQL text by name: a name ending in a
    backslash escaped its quote, and the next name ran as SQL unchecked (a limited user read
    raw data, or dropped a table). Every name is an identifier now, checked first."""
    sid = uuid.uuid4().hex
    attack = {"session_id": sid, "log_comment": "x", "a\\": "1",
              payload.format(raw=marts["raw"]): "1"}  # fmt: skip
    for auth in (BI, None):
        r = requests.post(url, params=attack, data=b"SELECT getSetting('log_comment')",
                          auth=auth, timeout=TIMEOUT)  # fmt: skip
        assert code(r) == "115" and "Unknown setting 'a\\'" in r.text, r.text
        assert "a@example.com" not in r.text
    assert ok(url, f"SELECT email FROM {marts['raw']}") == "a@example.com\n"


def test_an_external_table_is_data_not_sql(url, marts):
    """An external table's name, structure, format and data come from the client and pass no
    access check of their own: none of it may run as SQL. Each attack once read the raw
    table as `bi` (or dropped it as a writer)."""
    secret, raw = "a@example.com", marts["raw"]

    def send(query: str, name: str, data: bytes, auth=BI, **describe) -> requests.Response:
        params = {"query": query, **{f"{name}_{k}": v for k, v in describe.items()}}
        return requests.post(url, params=params, files={name: (name, data)}, auth=auth,
                             timeout=TIMEOUT)  # fmt: skip

    r = send("SELECT * FROM ext", "ext", b"x\n",
             structure=f"s String) ENGINE = Memory AS SELECT email FROM {raw} --")  # fmt: skip
    assert code(r) == "62" and secret not in r.text, r.text
    r = send("SELECT * FROM ext", "ext", b"x\n", auth=None,
             structure=f"s String) ENGINE = Memory; DROP TABLE {raw}; --")  # fmt: skip
    assert code(r) == "62", r.text
    r = send(f"SELECT * FROM {raw}", raw, b"x\n", structure="s String")  # a part named db.table
    assert code(r) == "36" and secret not in r.text, r.text
    r = send("SELECT * FROM ext", "ext", f"((SELECT any(email) FROM {raw}))".encode(),
             structure="s String", format="Values")  # fmt: skip
    assert code(r) == "344" and secret not in r.text, r.text
    r = send("SELECT * FROM ext", "ext", b"x\n", structure="s String", format="TSV; DROP")
    assert code(r) == "73", r.text
    assert ok(url, f"SELECT email FROM {raw}") == secret + "\n"
    # What a client sends by the book still works, typed as the engine spells the types.
    columns = "s LowCardinality(String), `t` Nullable(UInt8)"
    r = send("SELECT toTypeName(s), toTypeName(t), * FROM ext", "ext", b"('a', 1)\n",
             structure=columns, format="Values")  # fmt: skip
    assert r.text == "LowCardinality(String)\tNullable(UInt8)\ta\t1\n", r.text


def test_settings_that_add_unchecked_queries_or_host_paths_are_refused(url, marts):
    """Some settings add to a query what the access check's AST does not show (a result
    filter with a subquery, a table read when FROM is missing, clickhouse-local's `select`
    rewrite applied after the check) or name host paths (a format template): refused from
    the URL, a SETTINGS clause or a SET, for every user without allow_external."""
    secret, raw = "a@example.com", marts["raw"]
    sid = uuid.uuid4().hex
    attempts_ = [
        ({"implicit_table_at_top_level": raw}, "SELECT *"),
        ({"additional_result_filter": f"throwIf(1, (SELECT any(email) FROM {raw}) != '')"},
         "SELECT 1"),
        ({"select": f"(SELECT any(email) FROM {raw})"}, "SELECT 1"),
        ({}, "SELECT 1 SETTINGS format_template_row = '/etc/passwd' FORMAT Template"),
        ({}, f"SELECT * FROM (SELECT 1 SETTINGS implicit_table_at_top_level = '{raw}')"),
        ({"session_id": sid}, f"SET implicit_table_at_top_level = '{raw}'"),
    ]  # fmt: skip
    for auth in (BI, None):
        for params, sql in attempts_:
            r = requests.post(url, params=params, data=sql.encode(), auth=auth, timeout=TIMEOUT)
            assert code(r) == "497" and "setting" in r.text, (auth, sql, r.text)
            assert secret not in r.text
            r = requests.get(url, params={**params, "query": sql}, auth=auth, timeout=TIMEOUT)
            assert code(r) == "497", (auth, sql, r.text)
    # Ordinary settings, and the same words as column names, still work.
    assert ok(url, "SELECT 1 AS filter, 2 AS select SETTINGS max_threads = 1") == "1\t2\n"
    r = requests.post(url, params={"max_threads": "1"}, data=b"SELECT 3", auth=BI)
    assert r.text == "3\n", r.text


def test_insert_data_holds_literals_only(url, marts):
    """The check of an INSERT sees its header, not its rows: a Values row that called file()
    read a host file the same user's SELECT may not. Rows are data: literals only, for every
    user without allow_external, wherever the rows come from."""
    table = f"{marts['raw_db']}.w"
    ok(url, f"CREATE TABLE {table} (s String) ENGINE = Memory")
    host_file = "file('/etc/hostname', 'LineAsString')"
    for sql, params in (
        (f"INSERT INTO {table} VALUES ({host_file})", {}),
        (f"INSERT INTO {table} FORMAT Values ({host_file})", {}),
        (f"INSERT INTO {table} SETTINGS input_format_values_interpret_expressions = 1 "
         f"VALUES ({host_file})", {}),
        (f"INSERT INTO {table} VALUES ({host_file})",
         {"input_format_values_interpret_expressions": "1"}),
    ):  # fmt: skip
        r = post(url, sql, **params)
        assert code(r) in ("344", "497"), (sql, r.text)
    ok(url, f"INSERT INTO {table} VALUES ('literal'), ('two')")
    assert ok(url, f"SELECT groupArray(s) FROM {table}") == "['literal','two']\n"


def test_the_checked_statement_is_the_one_that_runs(url, marts):
    """A second attacker's pass: each of these once returned raw data or a host file, or
    reached the network, past the access check."""
    secret, raw = "a@example.com", marts["raw"]
    as_bi = [
        # The check blanked every `format <word>`: an alias named format hid FROM.
        (f"SELECT email, format FROM {raw}, (SELECT 1 AS format) AS z FORMAT TSV", {}),
        # Rows of format(Values, ...) ran subqueries; a structure string ran DEFAULTs.
        (f"SELECT * FROM format(Values, 's String', '((SELECT any(email) FROM {raw}))')", {}),
        ("SELECT * FROM format(CSV, 'a String, b String DEFAULT "
         "file(\\'/etc/hostname\\')', 'x,')", {}),
        # A schema registry is a URL the engine calls.
        ("SELECT * FROM format(AvroConfluent, 'a Int64', 'x')",
         {"format_avro_schema_registry_url": "http://127.0.0.1:1/"}),
    ]  # fmt: skip
    for sql, params in as_bi:
        r = requests.post(url, params=params, data=sql.encode(), auth=BI, timeout=TIMEOUT)
        assert code(r) in ("497", "344"), (sql, r.text)
        assert secret not in r.text
    as_default = [
        ("SELECT * FROM \"/etc/hostnam?\"", "60"),
        ("CREATE TABLE default.fh_disk (x String) ENGINE = MergeTree ORDER BY x "
         "SETTINGS disk = disk(type = 'web', endpoint = 'http://127.0.0.1:1/')", "497"),
    ]  # fmt: skip
    for sql, expected in as_default:
        r = post(url, sql)
        assert code(r) == expected, (sql, r.text)
    # The FORMAT clause still names the output format.
    assert ok(url, "SELECT 1 AS x FORMAT JSONEachRow") == '{"x":1}\n'
    assert ok(url, "SELECT 2 AS format FORMAT TSV") == "2\n"


def test_what_the_engine_reads_is_what_the_check_reads(url, marts):
    """A third pass: escaped or Unicode-quoted setting names, a second statement hidden by
    Unicode quotes, a DEFAULT behind a line break or a computed structure, and a brace glob
    that expands to `..` each got past a check that read the text otherwise than the engine."""
    secret, raw = "a@example.com", marts["raw"]
    as_bi = [
        f"SELECT * SETTINGS `implicit\\x5ftable_at_top_level` = '{raw}'",
        f"SELECT * SETTINGS “implicit_table_at_top_level” = '{raw}'",
        f"SELECT ‘a'’; SELECT throwIf(1, (SELECT any(email) FROM {raw}) != '') --'",
        "SELECT b FROM format(JSONEachRow, 'a String,\\nb String\\nDEFAULT "
        "file(''/etc/hostname'')', '{\"a\":\"1\"}')",
        "SELECT * FROM format(CSV, concat('a String, b String DEF', 'AULT 1'), 'x,')",
    ]
    for sql in as_bi:
        r = requests.post(url, data=sql.encode(), auth=BI, timeout=TIMEOUT)
        assert code(r) in ("497", "62"), (sql, r.text)
        assert secret not in r.text
    sid = uuid.uuid4().hex
    r = post(url, "SET `additional\\x5ftable_filters` = {}", auth=BI, session_id=sid)
    assert code(r) == "497", r.text
    as_default = [
        "SELECT ‘'’; CREATE TABLE default.fh_pwn ENGINE = Memory AS SELECT 1 --'",
        "SELECT * FROM file('{.}{.}/{.}{.}/{.}{.}/{.}{.}/{.}{.}/{.}{.}/etc/hostname', 'RawBLOB')",
        "SELECT 1 SETTINGS `format\\x5ftemplate_resultset` = '/etc/hostname' FORMAT Template",
    ]
    for sql in as_default:
        r = post(url, sql)
        assert code(r) in ("497", "291", "62"), (sql, r.text)
    assert ok(url, "EXISTS TABLE default.fh_pwn") == "0\n"


def test_bi_learns_nothing_of_other_databases(url, marts):
    """SHOW CREATE DATABASE was checked as a table of the current database: bi read another
    database's definition (and could probe which names exist)."""
    raw_db = marts["raw_db"]
    for target, params in ((raw_db, {}), ("{db:Identifier}", {"param_db": raw_db}),
                           ("no_such_database", {})):  # fmt: skip
        r = post(url, f"SHOW CREATE DATABASE {target}", auth=BI, **params)
        assert code(r) == "497" and "ENGINE" not in r.text, (target, r.text)
    assert "CREATE DATABASE marts" in ok_as_bi(url, "SHOW CREATE DATABASE marts")


def ok_as_bi(url: str, sql: str) -> str:
    r = post(url, sql, auth=BI)
    assert r.status_code == 200, r.text
    return r.text


def test_errors_name_no_table_bi_may_not_see(url, marts):
    """The engine's spelling hints pick from every database ("Maybe you meant raw.people?"):
    bi could list another database's tables by trying near names."""
    raw_db = marts["raw_db"]
    for sql in ("SELECT * FROM people", "SELECT * FROM marts.people", "DESCRIBE marts.people"):
        r = post(url, sql, auth=BI)
        assert code(r) in ("60", "497"), (sql, r.text)
        assert raw_db not in r.text and "Maybe you meant" not in r.text, (sql, r.text)
    # An admin keeps the engine's hints.
    r = post(url, f"SELECT * FROM {raw_db}.peopl")
    assert "Maybe you meant" in r.text, r.text
