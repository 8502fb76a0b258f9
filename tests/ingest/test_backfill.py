"""`--since`: a backfill re-reads every record changed (or, for append-only streams, created)
since a date, whatever the cursor says, and the cursor never moves back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from funnelhouse.ingest.sync import parse_since
from tests.ingest.conftest import new_session

# (source, stream) → the payload field the since-filter applies to.
DATED = {
    ("amocrm", "contacts"): "updated_at",
    ("amocrm", "status_changes"): "created_at",
    ("bitrix24", "deals"): "DATE_MODIFY",
    ("bitrix24", "stage_history"): "CREATED_TIME",
    ("bitrix24", "calls"): "CALL_START_DATE",
    ("uis", "calls"): "start_time",
}


def _unix(value: object, tz: ZoneInfo) -> float:
    """amoCRM: unix seconds; Bitrix24: ISO with offset; UIS: account-local, no offset."""
    if isinstance(value, int | float):
        return float(value)
    parsed = datetime.fromisoformat(str(value))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).timestamp()


def test_since_rereads_what_changed_since_and_keeps_cursors(emulators, store):
    session = new_session(store)
    first = {key: session.sync(*key) for key in DATED}
    cursors = {key: store.get_cursor(*key) for key in DATED}
    day = datetime.fromtimestamp(emulators.clock - 60 * 86_400, UTC).strftime("%Y-%m-%d")
    since = parse_since(day)
    tz = ZoneInfo(emulators.env()["UIS_TIMEZONE"])

    again = new_session(store)
    for key, field in DATED.items():
        table = f"{store.database}.{key[0]}__{key[1]}"
        # What a backfill is for: stored versions that differ from the source (a re-read
        # record stored as it is would not be written again, and so not be seen below).
        store.client.command(f"ALTER TABLE {table} UPDATE _cursor = 'stale' WHERE true",
                             settings={"mutations_sync": 2})  # fmt: skip
        stored = {
            i: _unix(json.loads(p)[field], tz)
            for i, p in store.client.query(f"SELECT id, payload FROM {table} FINAL").result_rows
        }
        wanted = {i for i, at in stored.items() if at >= since}
        assert 0 < len(wanted) < len(stored), key  # the date really splits the stream

        result = again.sync(*key, since=since)
        got = {
            r[0]
            for r in store.client.query(
                f"SELECT DISTINCT id FROM {table} WHERE _batch_id = {{b:String}}",
                parameters={"b": result.batch_id},
            ).result_rows
        }
        assert wanted <= got, key  # everything changed since the date, whatever the cursor
        assert all(stored[i] >= since - 1 for i in got), key  # and not the older history
        assert result.extra["since"] == f"{day}T00:00:00+00:00"
        assert result.cursor_after == cursors[key] == first[key].cursor_after, key
        assert store.get_cursor(*key) == cursors[key], key


def test_since_must_be_a_date():
    assert parse_since("2024-03-01") == datetime(2024, 3, 1, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_since("01.03.2024")
