"""Issue 15: `default` reads host files with file() only under the data directory's user_files,
as a server does under user_files_path; every way out is refused with DATABASE_ACCESS_DENIED
(291), through raw HTTP and through clickhouse-connect."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EmbeddedServer
from tests.warehouse.attempts import VIAS, Attempt, attempts

BI = ("bi", "funnelhouse_bi")


@pytest.fixture(params=VIAS)
def attempt(request, embedded_only: EmbeddedServer) -> Iterator[Attempt]:
    with attempts(request.param, embedded_only.port) as run:
        yield run


@pytest.fixture
def files(embedded_only: EmbeddedServer, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """A folder under user_files with two CSVs, a secret outside and links leading to it."""
    user_files = embedded_only.data_dir / "warehouse" / "user_files"
    folder = user_files / f"fh_{uuid.uuid4().hex[:8]}"
    (folder / "in").mkdir(parents=True)
    (folder / "in" / "a.csv").write_text("1,one\n")
    (folder / "in" / "b.csv").write_text("2,two\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("42,secret\n")
    (folder / "leak").mkdir()
    (folder / "leak" / "ok.csv").write_text("3,three\n")
    os.symlink(secret, folder / "leak" / "link.csv")
    os.symlink(tmp_path, folder / "dir_link")
    yield {"folder": folder, "rel": folder.relative_to(user_files), "secret": secret}


def test_default_reads_files_under_user_files(attempt, files):
    rel, folder = files["rel"], files["folder"]
    for sql, expected in [
        (f"SELECT c2 FROM file('{rel}/in/a.csv', 'CSV') FORMAT TSV", "one"),
        (f"SELECT c2 FROM file('{folder}/in/b.csv', 'CSV') FORMAT TSV", "two"),
        (f"SELECT arrayStringConcat(groupArray(c2), '+') FROM (SELECT c2 FROM "
         f"file('{rel}/in/*.csv', 'CSV') ORDER BY c1) FORMAT TSV", "one+two"),
        (f"SELECT c2 FROM file('{rel}/in/{{a,c}}.csv', 'CSV') FORMAT TSV", "one"),
        (f"SELECT length(file('{rel}/in/a.csv'))", "6"),  # 1,one and a newline
    ]:  # fmt: skip
        error, text = attempt(sql)
        assert error is None and text.strip() == expected, (sql, text)


def test_every_way_out_of_user_files_is_refused(attempt, files):
    rel, secret = files["rel"], files["secret"]
    for sql in [
        f"SELECT * FROM file('{secret}', 'CSV')",
        f"SELECT * FROM file('{rel}/../../../../../..{secret}', 'CSV')",
        f"SELECT * FROM file('{rel}/in/../../../{secret.name}', 'CSV')",
        f"SELECT * FROM file('{rel}/leak/link.csv', 'CSV')",
        f"SELECT * FROM file('{rel}/leak/*.csv', 'CSV')",  # the glob would reach the link
        f"SELECT * FROM file('{rel}/dir_link/secret.csv', 'CSV')",
        f"SELECT * FROM file('{rel}/dir_link/*', 'CSV')",
        f"SELECT file('{secret}')",
        f"SELECT file('{rel}/leak/link.csv')",
        "SELECT * FROM file('/etc/passw?', 'LineAsString')",
    ]:
        error, text = attempt(sql)
        assert error == "291" and "is not inside" in text, (sql, text)
    error, text = attempt(f"SELECT * FROM file('{rel}/in/' || 'a.csv', 'CSV')")
    assert error == "497" and "string literal" in text, text


def test_bi_reads_no_files_at_all(attempt, files):
    error, text = attempt(f"SELECT * FROM file('{files['rel']}/in/a.csv', 'CSV')", BI)
    assert error == "497", text


def test_files_are_not_tables(attempt, files):
    error, text = attempt(f"SELECT * FROM `{files['rel']}/in/a.csv`")
    assert error == "60", text
