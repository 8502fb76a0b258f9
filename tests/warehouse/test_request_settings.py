"""A request's settings govern its query, not the endpoint's own check of it: a result limit
sent by a client must neither fail nor cut the EXPLAIN AST the access policy reads."""

from __future__ import annotations

import uuid

import clickhouse_connect
import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError

from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.query_policy import parse_ast
from funnelhouse.warehouse.settings import WarehouseSettings

TIMEOUT = 120
# Three rows, but an AST of some twenty lines: a check that obeyed the limit would fail.
WIDE = "SELECT number, number + 1, toString(number) FROM numbers(10) WHERE number > 6"


@pytest.fixture
def url(warehouse: WarehouseSettings) -> str:
    return f"http://{warehouse.host}:{warehouse.port}/"


def test_url_result_limit_applies_to_the_result_only(url, warehouse):
    r = requests.post(url, params={"max_result_rows": "7"}, data=WIDE, timeout=TIMEOUT)
    assert r.status_code == 200 and r.text.splitlines()[0] == "7\t8\t7", r.text
    r = requests.post(url, params={"max_result_rows": "7"}, data="SELECT * FROM numbers(10)")
    assert r.headers["X-ClickHouse-Exception-Code"] == "396", r.text
    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        rows = client.query(WIDE, settings={"max_result_rows": 7}).result_rows
        assert rows == [(7, 8, "7"), (8, 9, "8"), (9, 10, "9")]
        with pytest.raises(DatabaseError, match="TOO_MANY_ROWS_OR_BYTES"):
            client.query("SELECT * FROM numbers(10)", settings={"max_result_rows": 7})
    finally:
        client.close()


def test_query_settings_clause_result_limit_applies_to_the_result_only(url):
    r = requests.post(url, data=WIDE + " SETTINGS max_result_rows = 3", timeout=TIMEOUT)
    assert r.status_code == 200 and len(r.text.splitlines()) == 3, r.text
    r = requests.post(url, data=WIDE + " SETTINGS max_result_rows = 2", timeout=TIMEOUT)
    assert r.headers["X-ClickHouse-Exception-Code"] == "396", r.text
    # The check leaves the connection's own overflow mode as it was.
    r = requests.post(url, params={"result_overflow_mode": "break"},
                      data=WIDE + " SETTINGS max_result_rows = 1", timeout=TIMEOUT)  # fmt: skip
    assert r.status_code == 200 and r.text.startswith("7\t8\t7\n"), r.text


def test_url_limit_cuts_the_result_not_the_check(url, warehouse):
    r = requests.post(url, params={"limit": "2"}, data="SELECT number FROM numbers(5)")
    assert r.status_code == 200 and r.text == "0\n1\n", r.text
    # With the check cut to the first AST line, file() outside user_files would pass unseen.
    r = requests.post(url, params={"limit": "1"}, data="SELECT * FROM file('/etc/passwd')")
    assert r.headers["X-ClickHouse-Exception-Code"] == "291", r.text
    client = clickhouse_connect.get_client(host=warehouse.host, port=warehouse.port)
    try:
        with pytest.raises(DatabaseError, match="DATABASE_ACCESS_DENIED"):
            client.query("SELECT * FROM file('/etc/passwd', 'LineAsString')",
                         settings={"limit": 1})  # fmt: skip
    finally:
        client.close()


def test_session_keeps_its_settings_and_the_request_limit_stays_with_the_request(url):
    session = {"session_id": "request-settings"}
    requests.post(url, params=session, data="SET max_result_rows = 7", timeout=TIMEOUT)
    r = requests.post(url, params=session, data=WIDE, timeout=TIMEOUT)
    assert r.status_code == 200 and len(r.text.splitlines()) == 3, r.text
    r = requests.post(url, params=session | {"limit": "1"}, data=WIDE, timeout=TIMEOUT)
    assert r.text == "7\t8\t7\n", r.text
    r = requests.post(url, params=session, data="SELECT getSetting('limit'), "
                      "getSetting('max_result_rows')", timeout=TIMEOUT)  # fmt: skip
    assert r.text == "0\t7\n", r.text


def test_a_cut_ast_is_refused():
    whole = "SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  Literal UInt64_1\n"
    assert parse_ast(whole).kind == "SelectWithUnionQuery"
    with pytest.raises(ClickHouseError) as err:
        parse_ast("\n".join(whole.splitlines()[:2]))
    assert err.value.code == 497 and "incomplete AST" in err.value.message


def test_a_session_set_between_requests_with_url_settings_is_kept(url):
    """A request's URL settings are undone afterwards to what the session held, which the
    endpoint remembers between requests: a SET in the session must renew that memory."""
    session = {"session_id": "url-settings-then-set"}

    def setting(params: dict[str, str] | None = None) -> str:
        r = requests.post(url, params=session | (params or {}),
                          data="SELECT getSetting('max_result_rows')", timeout=TIMEOUT)  # fmt: skip
        assert r.status_code == 200, r.text
        return r.text.strip()

    assert setting({"max_result_rows": "5"}) == "5"
    assert setting() == "0"
    for statement, value in (("SET max_result_rows = 7", "7"),
                             ("/* a BI tool's */ set max_result_rows = 9", "9")):  # fmt: skip
        r = requests.post(url, params=session, data=statement, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        assert setting({"max_result_rows": "5"}) == "5"
        assert setting() == value, statement


def test_a_refused_url_setting_leaves_the_session_as_it_was(url):
    """URL settings that decide parsing are applied before the access check, the others after
    it: when the engine refuses one of the others (an unknown name, a value that does not
    parse), the error names it and the session holds again what it held before."""
    session = {"session_id": "refused-url-setting"}
    read = "SELECT getSetting('max_result_rows'), getSetting('max_parser_depth')"
    requests.post(url, params=session, data="SET max_result_rows = 7", timeout=TIMEOUT)
    before = requests.post(url, params=session, data=read, timeout=TIMEOUT).text
    assert before.startswith("7\t") and "\t500\n" not in before, before
    for bad, code, named in (({"no_such_setting": "1"}, "115", "no_such_setting"),
                             ({"max_result_rows": "many"}, "27", "")):  # fmt: skip
        r = requests.post(url, params=session | {"max_parser_depth": "500"} | bad,
                          data=read, timeout=TIMEOUT)  # fmt: skip
        assert r.headers["X-ClickHouse-Exception-Code"] == code, r.text
        assert named in r.text
        after = requests.post(url, params=session, data=read, timeout=TIMEOUT).text
        assert after == before, bad


def test_what_a_set_assigns_stays_even_when_the_url_names_it_too(url):
    session = {"session_id": "set-and-url"}
    r = requests.post(url, params=session | {"max_result_rows": "5"},
                      data="SET max_result_rows = 7", timeout=TIMEOUT)  # fmt: skip
    assert r.status_code == 200, r.text
    r = requests.post(url, params=session, data="SELECT getSetting('max_result_rows')")
    assert r.text == "7\n", r.text


def test_a_session_value_survives_a_request_that_overrides_it(url):
    """The session's value is read back and set again verbatim: backslashes and tabs too."""
    session = {"session_id": "verbatim-restore"}
    r = requests.post(url, params=session, data=r"SET log_comment = 'a\\b\tc'")
    assert r.status_code == 200, r.text
    read = "SELECT hex(getSetting('log_comment'))"
    before = requests.post(url, params=session, data=read, timeout=TIMEOUT).text
    assert before == "615C620963\n", before
    r = requests.post(url, params=session | {"log_comment": "other"}, data=read)
    assert r.text == "6F74686572\n", r.text
    assert requests.post(url, params=session, data=read, timeout=TIMEOUT).text == before


def test_a_url_readonly_in_a_session_does_not_lock_the_session(url):
    """A server applies URL settings to one query: `readonly=1` sent with one request must not
    leave the session read-only (every SET after it, the restore too, would be refused)."""
    session = {"session_id": uuid.uuid4().hex}
    r = requests.post(url, params=session | {"readonly": "1"}, data="SELECT 1", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    r = requests.post(url, params=session, data="CREATE TEMPORARY TABLE t_after (x UInt8)")
    assert r.status_code == 200, r.text
    r = requests.post(url, params=session, data="INSERT INTO t_after VALUES (1)")
    assert r.status_code == 200, r.text
