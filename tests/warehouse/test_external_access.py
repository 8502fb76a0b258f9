"""Issue 15: file and network access is opt-in per user (`allow_external` in the users file).

An endpoint whose users file names an admin lets that admin read any file, write files and call
URLs, through raw HTTP and clickhouse-connect, while `default` and `bi` stay refused as before;
the shipped users file names no admin."""

from __future__ import annotations

import hashlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from funnelhouse.warehouse.embedded.users import DEFAULT_USERS_FILE, Users
from tests.conftest import EXTERNAL, EmbeddedServer, server_with_users
from tests.warehouse.attempts import VIAS, Attempt, attempts

ADMIN = ("ops", "ops-secret")
BI = ("bi", "funnelhouse_bi")
pytestmark = pytest.mark.skipif(EXTERNAL, reason="starts embedded endpoints of its own")


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory) -> Iterator[EmbeddedServer]:
    digest = hashlib.sha256(ADMIN[1].encode()).hexdigest()
    admin = f'\n[users.{ADMIN[0]}]\npassword_sha256_hex = "{digest}"\nallow_external = true\n'
    with server_with_users(tmp_path_factory, admin, "admin_warehouse") as server:
        yield server


@pytest.fixture(params=VIAS)
def attempt(request, admin_server: EmbeddedServer) -> Iterator[Attempt]:
    with attempts(request.param, admin_server.port) as run:
        yield run


def test_the_admin_reaches_files_and_the_network(attempt, admin_server, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("7,seven\n")
    error, text = attempt(f"SELECT c2 FROM file('{outside}', 'CSV') FORMAT TSV", ADMIN)
    assert error is None and text.strip() == "seven", text
    ping = f"http://127.0.0.1:{admin_server.port}/ping"
    error, text = attempt(f"SELECT * FROM url('{ping}', 'LineAsString') FORMAT TSV", ADMIN)
    assert error is None and text.strip() == "Ok.", text
    written = tmp_path / f"out_{uuid.uuid4().hex[:6]}.tsv"
    error, text = attempt(
        f"INSERT INTO FUNCTION file('{written}', 'TSV', 'x String') VALUES ('from admin')", ADMIN
    )
    assert error is None and written.read_text() == "from admin\n", text


def test_every_outbound_client_has_a_timeout(admin_server):
    names = {"connect_timeout": "5", "http_receive_timeout": "30", "http_max_tries": "2",
             "external_storage_connect_timeout_sec": "5",
             "external_storage_rw_timeout_sec": "30", "s3_request_timeout_ms": "30000"}  # fmt: skip
    listed = ", ".join(f"'{n}'" for n in names)
    with attempts("http", admin_server.port) as run:
        error, text = run(
            f"SELECT name, value FROM system.settings WHERE name IN ({listed})", ADMIN
        )
    assert error is None and dict(line.split("\t") for line in text.splitlines()) == names


def test_an_outbound_call_to_a_silent_host_times_out(admin_server):
    """http_receive_timeout bounds an outbound call: a host that accepts and never answers costs
    the admin's query an error, not a hung thread. The profile's own values (30 s, 2 tries) are
    checked above; the query lowers the timeout so the test does not wait out a minute."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        held: list[socket.socket] = []

        def accept_until_closed() -> None:
            try:
                while True:
                    held.append(silent.accept()[0])
            except OSError:
                return

        accepting = threading.Thread(target=accept_until_closed, daemon=True)
        accepting.start()
        with attempts("http", admin_server.port) as run:
            sql = (
                f"SELECT * FROM url('http://127.0.0.1:{silent.getsockname()[1]}/', 'LineAsString') "
                "SETTINGS http_receive_timeout = 2"
            )
            error, text = run(sql, ADMIN)
        for conn in held:
            conn.close()
    assert error == "1000" and "Timeout" in text, text


@pytest.mark.parametrize("auth", [None, BI], ids=["default", "bi"])
def test_other_users_stay_refused_next_to_an_admin(attempt, admin_server, tmp_path, auth):
    ping = f"http://127.0.0.1:{admin_server.port}/ping"
    for sql, default_code in [
        (f"SELECT * FROM url('{ping}', 'LineAsString')", "497"),
        ("SELECT * FROM remote('127.0.0.1:1', system.one)", "497"),
        ("SELECT count() FROM file('/etc/passwd', 'LineAsString')", "291"),
        ("SELECT file('/etc/passwd')", "291"),
        ("SELECT 1 INTO OUTFILE '/tmp/fh_admin_outfile'", "497"),
        (f"INSERT INTO FUNCTION file('{tmp_path}/x.tsv', 'TSV', 'x String') VALUES ('x')", "497"),
    ]:
        error, text = attempt(sql, auth)
        expected = {default_code} if auth is None else {"497", "164"}
        assert error in expected, (sql, text)
    assert not Path("/tmp/fh_admin_outfile").exists() and not (tmp_path / "x.tsv").exists()


def test_no_user_has_external_access_unless_the_users_file_says_so(tmp_path):
    assert not Users.load(DEFAULT_USERS_FILE).any_external
    bad = tmp_path / "users.toml"
    bad.write_text('[users.default]\nallow_external = "yes"\n')
    with pytest.raises(ValueError, match="allow_external must be true or false"):
        Users.load(bad)
