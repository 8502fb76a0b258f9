"""The GX runner: right unexpected counts and samples, computed in the warehouse, Data Docs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from funnelhouse.expectations.runner import Check, TableSuite, Validator
from funnelhouse.warehouse.client import get_client


@pytest.fixture
def sent_statements() -> Iterator[list[str]]:
    """Every statement SQLAlchemy (so GX) sends while the test runs, whitespace collapsed."""
    statements: list[str] = []

    def seen(conn, cursor, statement, *_):
        statements.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", seen)
    yield statements


def test_runner_reports_failures_with_counts_samples_and_docs(warehouse, tmp_path, sent_statements):
    client = get_client(warehouse)
    db = f"gxr_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.calls (id UInt64, talk Int32) ENGINE=MergeTree ORDER BY id")
    client.command(
        f"INSERT INTO {db}.calls SELECT number, if(number < 3, -7, 60) FROM numbers(50000)"
    )
    validator = Validator(warehouse, tmp_path / "docs")
    bad = validator.validate(
        TableSuite(
            name="calls_suite",
            relation=f"{db}.calls",
            expectations=[
                Check(
                    "ExpectColumnValuesToBeBetween", "talk >= 0", {"column": "talk", "min_value": 0}
                ),
                Check("ExpectColumnValuesToBeUnique", "id unique", {"column": "id"}),
            ],
        )
    )
    assert not bad.success
    [failure] = bad.failures
    assert failure.column == "talk" and failure.unexpected_count == 3
    assert failure.sample == [-7, -7, -7]
    # Data Docs are rendered once for all the suites a run validated, with a page for each.
    assert validator.build_docs() == tmp_path / "docs" / "index.html"
    assert list((tmp_path / "docs" / "validations" / "calls_suite").rglob("*.html"))
    # A view is validated like a table, and the same validator runs a second suite.
    client.command(f"CREATE VIEW {db}.calls_positive AS SELECT * FROM {db}.calls WHERE talk >= 0")
    good = validator.validate(
        TableSuite(
            name="calls_positive",
            relation=f"{db}.calls_positive",
            expectations=[
                Check(
                    "ExpectColumnValuesToBeBetween", "talk >= 0", {"column": "talk", "min_value": 0}
                ),
                Check("ExpectTableRowCountToEqual", "49997 rows", {"value": 49997}),
            ],
        )
    )
    assert good.success, [f.describe() for f in good.failures]
    # Every metric is computed in the warehouse: no statement fetches a relation's rows whole
    # (as GX does to learn a query asset's columns), which at scale 100 took most of the gate.
    assert sent_statements
    whole = [s for s in sent_statements if re.fullmatch(r"SELECT \* FROM [^()]+", s, re.IGNORECASE)]
    assert not whole, whole
    client.command(f"DROP DATABASE {db}")
    client.close()
