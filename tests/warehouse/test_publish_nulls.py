"""Publish ids hash every row, NULLs included: a mart whose rows all hold a NULL publishes, and
a change inside such a row is a new version, not mistaken for the live one."""

from __future__ import annotations

import uuid

from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.publish import publish


def test_rows_with_nulls_publish_and_their_changes_make_a_new_version(warehouse):
    client = get_client(warehouse)
    tag = uuid.uuid4().hex[:8]
    candidate, target = f"cand_{tag}", f"pub_{tag}"
    client.command(f"CREATE DATABASE {candidate}")
    client.command(
        f"CREATE TABLE {candidate}.m (k UInt8, v Nullable(Float64)) ENGINE = MergeTree ORDER BY k"
    )
    try:
        client.command(f"INSERT INTO {candidate}.m VALUES (1, NULL), (2, NULL)")
        first = publish(client, ["m"], candidate, target, as_of="2026-01-01 00:00:00")
        assert first.committed and first.rows == {"m": 2}
        client.command(f"TRUNCATE TABLE {candidate}.m")
        client.command(f"INSERT INTO {candidate}.m VALUES (1, NULL), (3, NULL)")
        second = publish(client, ["m"], candidate, target, as_of="2026-01-01 00:00:00")
        assert second.committed and second.publish_id != first.publish_id
        assert client.query(f"SELECT k FROM {target}.m ORDER BY k").result_rows == [(1,), (3,)]
    finally:
        client.command(f"DROP DATABASE IF EXISTS {candidate} SYNC")
        client.command(f"DROP DATABASE IF EXISTS {target} SYNC")
        client.close()
