"""Issue 19: a dictionary may read this warehouse (a `CLICKHOUSE` source without a host), and
nothing else, for users without `allow_external`.

The source's table, query, `where` and `invalidate_query` pass the checks a query of the same
user passes: no table function reaching files or the network, no host file read as a table, and
for a user with a database allow-list, no table outside it. Every other source kind, a host or
port (loopback included), a named collection and an SSD_CACHE layout (a file at a chosen path)
stay refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import EXTERNAL, EmbeddedServer, server_with_users

pytestmark = pytest.mark.skipif(EXTERNAL, reason="starts an embedded endpoint of its own")

TIMEOUT = 300
BI = ("bi", "funnelhouse_bi")
# A user limited to `marts` who is not readonly: the dictionary check runs for it before its
# write is refused, so the refusal shows which grant a dictionary would have needed.
ANALYST = ("analyst", "")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[EmbeddedServer]:
    analyst = (f'\n[users.{ANALYST[0]}]\npassword_sha256_hex = ""\nreadonly = 0\n'
               'databases = ["marts"]\n')  # fmt: skip
    with server_with_users(tmp_path_factory, analyst, "dictionary_warehouse") as server:
        yield server


def post(server: EmbeddedServer, sql: str, auth=None) -> requests.Response:
    return requests.post(server.url, data=sql.encode(), auth=auth, timeout=TIMEOUT)


def ok(server: EmbeddedServer, sql: str) -> str:
    r = post(server, sql)
    assert r.status_code == 200, (sql, r.text)
    return r.text


def error(server: EmbeddedServer, sql: str, auth=None) -> tuple[str | None, str]:
    r = post(server, sql, auth)
    return r.headers.get("X-ClickHouse-Exception-Code"), r.text


@pytest.fixture
def dbs(server: EmbeddedServer) -> Iterator[dict[str, str]]:
    """A database with `people` and a second one with a different `people`, plus marts."""
    tag = uuid.uuid4().hex[:8]
    names = {"own": f"fh_dict_{tag}", "other": f"fh_dict_other_{tag}", "tag": tag}
    for db, who in ((names["own"], "own"), (names["other"], "other"), ("marts", "mart")):
        ok(server, f"CREATE DATABASE IF NOT EXISTS {db}")
        table = f"{db}.people_{tag}" if db == "marts" else f"{db}.people"
        ok(server, f"CREATE TABLE {table} (id UInt64, name String, updated_at DateTime) "
                   "ENGINE = MergeTree ORDER BY id")  # fmt: skip
        ok(server, f"INSERT INTO {table} VALUES (1, '{who}', '2024-01-01 00:00:00')")
    yield names
    for db in (names["own"], names["other"]):
        ok(server, f"DROP DATABASE {db}")
    ok(server, f"DROP TABLE IF EXISTS marts.people_{tag}")


def dictionary(name: str, source: str, layout: str = "HASHED()") -> str:
    return (
        f"CREATE DICTIONARY {name} (id UInt64, name String) PRIMARY KEY id "
        f"SOURCE(CLICKHOUSE({source})) LAYOUT({layout}) LIFETIME(MIN 0 MAX 60)"
    )


def test_a_clickhouse_source_over_a_local_table_works(server, dbs):
    own, other = dbs["own"], dbs["other"]
    ok(server, dictionary(f"{own}.by_table", f"user 'default' db '{other}' table 'people'"))
    assert ok(server, f"SELECT dictGet('{own}.by_table', 'name', toUInt64(1))") == "other\n"
    # Without `db`, the table is the dictionary's database's, as on a server.
    ok(server, dictionary(f"{own}.own_table", "table 'people'"))
    assert ok(server, f"SELECT dictGet('{own}.own_table', 'name', 1)") == "own\n"
    assert ok(server, f"SELECT name FROM {own}.own_table") == "own\n"
    # Quoted names as values, on one line (the engine reads them as the strings they quote).
    ok(server, dictionary(f"{own}.quoted", f'table `people` db "{other}"'))
    assert ok(server, f"SELECT dictGet('{own}.quoted', 'name', 1)") == "other\n"
    # A dictionary called `source` is not mistaken for its SOURCE clause.
    ok(server, dictionary(f"{own}.source", f"table 'people' db '{other}'"))
    assert ok(server, f"SELECT dictGet('{own}.source', 'name', 1)") == "other\n"
    ok(server, dictionary(f"{own}.one_line", "query \"SELECT 1 AS id, 'q' AS name\""))
    assert ok(server, f"SELECT dictGet('{own}.one_line', 'name', 1)") == "q\n"


def test_dbt_clickhouse_multi_line_query_source_works(server, dbs):
    """What dbt-clickhouse's dictionary materialization sends: the model's SQL as a
    double-quoted, multi-line name, with update_field and update_lag."""
    own, other = dbs["own"], dbs["other"]
    sql = (
        f"CREATE OR REPLACE DICTIONARY {own}.by_query (id UInt64, name String, "
        "updated_at DateTime) PRIMARY KEY id SOURCE(CLICKHOUSE(\n user 'default'\n"
        f" db '{own}'\n query \"select id,\n    name, updated_at\nfrom {other}.people\n"
        "where name like 'oth%'\"\n update_field 'updated_at'\n update_lag 120\n))\n"
        "LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(1)"
    )
    ok(server, sql)
    assert ok(server, f"SELECT dictGet('{own}.by_query', 'name', tuple(toUInt64(1)))") == "other\n"
    ok(server, f"SYSTEM RELOAD DICTIONARY {own}.by_query")
    assert ok(server, f"SELECT count() FROM {own}.by_query") == "1\n"


# (source, code, a word of the refusal). Every statement is refused before the engine creates
# anything; `{other}` is a database the tests may read, so only the named rule refuses.
REFUSED = [
    ("host 'localhost' port 9000 table 'people'", "497", "key host"),
    ("host '127.0.0.1' table 'people'", "497", "key host"),
    ("port 1 table 'people'", "497", "key port"),
    ("`HOST` 'localhost' table 'people'", "497", "key host"),
    ("table 'people' secure 0", "497", "key secure"),
    ("name some_collection table 'people'", "497", "key name"),
    ("table 'people' user 'default' table 'people'", "497", "twice"),
    ("table concat('peo', 'ple')", "497", "not a string"),
    ("db '' table 'people'", "497", "empty dictionary source db"),
    ("query 'SELECT 1 AS id, * FROM url(''http://127.0.0.1:1/'', LineAsString)'", "497", "url()"),
    ('query "SELECT 1 AS id,\n * FROM s3(\'http://127.0.0.1:1/b/k\', LineAsString)"', "497",
     "s3()"),
    ("query 'SELECT 1 AS id, * FROM file(''/etc/passwd'', LineAsString)'", "291", "passwd"),
    ("query 'SELECT 1 AS id, * FROM `/etc/passwd`'", "60", "host files"),
    ("db 'default' table '/etc/passwd'", "60", "host files"),
    ("table 'people' where 'id IN (SELECT 1 FROM url(''http://127.0.0.1:1/'', TSV))'", "497",
     "url()"),
    ("table 'people' invalidate_query 'SELECT * FROM remote(''127.0.0.1:1'', system.one)'",
     "497", "remote()"),
    ("query 'INSERT INTO {other}.people SELECT 2, ''x'', now()'", "497", "not a SELECT"),
    ("query 'SELECT id, name FROM {other}.people; DROP DATABASE {other}'", "62", "statement"),
    ("query 'SELECT 1 AS id, ''a'' AS name INTO OUTFILE ''/tmp/fh_dict_out'''", "497",
     "OUTFILE"),
    ("query 'SELECT id, name FROM {other}.people WHERE {{condition}}'", "497", "{condition}"),
    ("table 'people' update_field 'updated_at) OR (1'", "497", "update_field"),
]  # fmt: skip
REFUSED_KINDS = [
    "FILE(path '/etc/passwd' format 'TSV')",
    "EXECUTABLE(command 'cat /etc/passwd' format 'TSV')",
    "HTTP(url 'http://127.0.0.1:1/' format 'TSV')",
    "MYSQL(host '127.0.0.1' port 1 user 'u' password 'p' db 'd' table 't')",
    "POSTGRESQL(host '127.0.0.1' port 1 user 'u' password 'p' db 'd' table 't')",
    "MONGODB(host '127.0.0.1' port 1 user 'u' password 'p' db 'd' collection 't')",
    "REDIS(host '127.0.0.1' port 1)",
    "ODBC(connection_string 'DSN=x' table 't')",
    "YAMLRegExpTree(PATH '/etc/passwd')",
]


@pytest.mark.parametrize(("source", "expected", "why"), REFUSED)
def test_a_clickhouse_source_reaches_nothing_but_the_warehouse(server, dbs, source, expected, why):
    name = f"{dbs['own']}.refused"
    code, text = error(server, dictionary(name, source.format(other=dbs["other"])))
    assert code == expected and why in text, text
    assert ok(server, f"EXISTS DICTIONARY {name}") == "0\n"
    assert ok(server, f"SELECT count() FROM {dbs['other']}.people") == "1\n"


@pytest.mark.parametrize("source", REFUSED_KINDS)
def test_other_source_kinds_stay_refused(server, dbs, source):
    name = f"{dbs['own']}.refused_kind"
    sql = (
        f"CREATE DICTIONARY {name} (id UInt64, name String) PRIMARY KEY id "
        f"SOURCE({source}) LAYOUT(HASHED()) LIFETIME(0)"
    )
    code, text = error(server, sql)
    assert code == "497" and "dictionary source" in text, text
    assert ok(server, f"EXISTS DICTIONARY {name}") == "0\n"


@pytest.mark.parametrize(
    "layout", ["SSD_CACHE(PATH '/tmp/fh_dict_ssd')", "COMPLEX_KEY_SSD_CACHE(BLOCK_SIZE 4096)"]
)
def test_ssd_cache_layouts_are_refused(server, dbs, layout):
    code, text = error(server, dictionary(f"{dbs['own']}.ssd", "table 'people'", layout))
    assert code == "497" and "files on the server host" in text, text


def test_a_limited_user_reads_no_other_database_through_a_dictionary(server, dbs):
    own, other, tag = dbs["own"], dbs["other"], dbs["tag"]
    for source, grant in (
        (f"db '{other}' table 'people'", f"SELECT ON {other}.people"),
        ("table 'people'", f"SELECT ON {own}.people"),  # the dictionary's own database
        (f"query 'SELECT id, name FROM {other}.people'", f"SELECT ON {other}.people"),
        ("query 'SELECT id, name FROM people'", "SELECT ON default.people"),  # runs in default
        (f"table 'people_{tag}' db 'marts' where 'id IN (SELECT id FROM {other}.people)'",
         f"SELECT ON {other}.people"),
        (f"table 'people_{tag}' db 'marts' invalidate_query 'SELECT 1 FROM {other}.people'",
         f"SELECT ON {other}.people"),
    ):  # fmt: skip
        code, text = error(server, dictionary(f"{own}.limited", source), ANALYST)
        assert code == "497" and grant in text, (source, text)
    code, text = error(
        server, dictionary("marts.limited", "query 'SELECT 1 AS id, name FROM system.tables'"),
        ANALYST,
    )  # fmt: skip
    assert code == "497" and "unfiltered reflection" in text, text
    # Within its database the dictionary passes; the write is then refused as any write.
    code, text = error(
        server, dictionary("marts.limited", f"db 'marts' table 'people_{tag}'"), ANALYST
    )
    assert code == "497" and "may only read" in text, text
    code, _ = error(server, dictionary("marts.limited", f"db 'marts' table 'people_{tag}'"), BI)
    assert code == "164"


def test_dictionary_functions_still_respect_database_grants(server, dbs):
    """A dictionary the admin made over another database is no way around the allow-list."""
    ok(server, dictionary(f"{dbs['own']}.admin_made", f"db '{dbs['other']}' table 'people'"))
    for sql in (
        f"SELECT dictGet('{dbs['own']}.admin_made', 'name', toUInt64(1))",
        f"SELECT dictGetOrDefault('{dbs['own']}.admin_made', 'name', toUInt64(1), '')",
        f"SELECT * FROM dictionary('{dbs['own']}.admin_made')",
        f"SELECT * FROM {dbs['own']}.admin_made",
    ):
        for auth in (BI, ANALYST):
            code, text = error(server, sql, auth)
            assert code == "497", (sql, auth, text)
