"""Every fault the emulators inject: survived with correct data, or a clear failure that names
source and stream and leaves earlier data and cursors intact."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from funnelhouse.ingest.http import SourceError
from funnelhouse.ingest.sources import SOURCES
from funnelhouse.ingest.sync import FUTURE_SLACK_SECONDS
from tests.ingest.conftest import new_session
from tests.ingest.test_sync import expected, loaded

# One stream per source: every paging style (amoCRM keyset, Bitrix24 batch keyset, UIS windows
# and offsets, 1C key scan + fetch by keys).
STREAMS = [("amocrm", "leads"), ("bitrix24", "deals"), ("uis", "calls"), ("onec", "sales")]


def _sync(store, **http):
    session = new_session(store)
    results = {}
    for source, stream in STREAMS:
        src = session.http(SOURCES[source])
        for key, value in http.items():
            setattr(src, key, value)
        results[(source, stream)] = session.sync(source, stream)
    return results


def _check(store, company, clock, ids_only: bool = False, as_text: bool = False):
    truth, got = expected(company, clock), loaded(store, STREAMS)
    for key in STREAMS:
        if ids_only:
            assert set(got[key]) == set(truth[key]), key
        elif as_text:  # a retyped field: the same value, now a string (or a number)
            assert {k: str(v) for k, v in got[key].items()} == {
                k: str(v) for k, v in truth[key].items()
            }, key
        else:
            assert got[key] == truth[key], key


@pytest.mark.parametrize(
    "fault",
    [
        "429_storm:count=4",
        "503_storm:count=4",
        "server_error:every=4",
        "slow:delay=0.05:every=3",
        "truncated_json:every=3",
        "malformed_json:every=3",
        "duplicate_pages:overlap=3",
        "new_field:name=brand_new",
        "retyped_field",
    ],
)
def test_transient_and_shape_faults_are_survived_with_correct_data(
    emulators, store, company, fault
):
    emulators.set_faults(fault)
    results = _sync(store)
    _check(store, company, emulators.clock, as_text=fault == "retyped_field")
    if fault.startswith(("429", "503", "server_error", "truncated", "malformed")):
        assert sum(r.http["retries"] for r in results.values()) > 0


def test_timeouts_are_retried(emulators, store, company):
    """Each API's next request hangs (60 s) far past the client's read timeout (5 s), which is
    itself far above a normal reply even on a loaded machine: the hung request times out and
    is retried, and the data are complete. No bound here depends on the machine's speed (a
    normal reply that did take 5 s would be retried too)."""
    emulators.set_faults("timeout:count=1:delay=60")
    results = _sync(store, timeout=(5.0, 5.0))
    _check(store, company, emulators.clock)
    for key, result in results.items():
        assert result.http["retries"] >= 1, key


def test_records_updated_while_paging_are_all_loaded(emulators, store, company):
    emulators.set_faults("update_while_paging:count=3")
    _sync(store)
    # Re-saved records carry the clock as their new version; none may be skipped.
    _check(store, company, emulators.clock, ids_only=True)


def test_deletions_are_flagged_or_gone(emulators, store, company):
    emulators.set_faults("deletions:every=7")
    _sync(store)
    deleted = store.client.query(
        f"SELECT count() FROM {store.database}.amocrm__leads FINAL WHERE _is_deleted = 1"
    ).result_rows[0][0]
    assert deleted > 0  # amoCRM deleted leads come from with=only_deleted, flagged
    ids = set(loaded(store, STREAMS)[("bitrix24", "deals")])
    truth = expected(company, emulators.clock)[("bitrix24", "deals")]
    # Bitrix24 deletes outright: the vanished deals are not served, so they never load.
    assert ids < set(truth)


@pytest.mark.parametrize(
    "defect",
    [
        "null_ids",
        "negative_durations",
        "future_dates",
        "unknown_stage_ids",
        "duplicate_ids",
    ],
)
def test_data_defects_load_for_the_gate_to_judge(emulators, store, defect):
    """Ingest never drops or rewrites what a source sends: the quality gate names the defect."""
    emulators.set_faults(f"{defect}:every=5")
    if defect == "null_ids":
        # 1C objects cannot lack a Ref_Key: that stream fails, naming the object, and writes
        # nothing; the other sources load the rows for the gate's "id present" expectations.
        emulators.set_faults("null_ids:every=5", only="onec")
        with pytest.raises(SourceError, match=r"onec/sales record Number='[^']+' Code=None: "):
            new_session(store).sync("onec", "sales")
        assert store.get_cursor("onec", "sales") is None
        emulators.set_faults(None, only="onec")
    results = _sync(store)
    assert all(r.rows > 0 for r in results.values())
    if defect == "duplicate_ids":
        conflicts = store.client.query(
            f"SELECT source, count() FROM {store.database}._id_conflicts GROUP BY source"
        ).result_rows
        assert {s for s, _ in conflicts} >= {"amocrm", "uis"}
    if defect == "future_dates":
        # Loaded for the gate, but the cursor stays at the newest call not after the present:
        # a cursor a year ahead would make every later sync skip the calls of that year.
        calls = results[("uis", "calls")]
        present = datetime.now(ZoneInfo(emulators.env()["UIS_TIMEZONE"])) + timedelta(
            seconds=FUTURE_SLACK_SECONDS
        )
        newest, ahead = store.client.query(
            "SELECT maxIf(_cursor, _cursor <= {t:String}), countIf(_cursor > {t:String}) "
            f"FROM {store.database}.uis__calls FINAL",
            parameters={"t": present.strftime("%Y-%m-%d %H:%M:%S")},
        ).result_rows[0]
        assert calls.cursor_after == newest
        assert calls.extra.get("future_dated", 0) >= ahead  # (a year's shift reaches 2027)
    if defect == "null_ids":
        rows = store.client.query(
            f"SELECT count() FROM {store.database}.uis__calls WHERE id = ''"
        ).result_rows[0][0]
        assert rows > 0


def test_a_storm_longer_than_the_retries_fails_clearly_and_keeps_cursors(emulators, store):
    _sync(store)  # a good first load
    cursor = store.get_cursor("uis", "calls")
    before = store.client.command(f"SELECT count() FROM {store.database}.uis__calls FINAL")
    emulators.advance(days=2)
    emulators.set_faults("uis.503_storm:count=1000")
    session = new_session(store)
    session.http(SOURCES["uis"]).max_attempts = 3
    with pytest.raises(SourceError) as err:
        session.sync("uis", "calls")
    message = str(err.value)
    assert message.startswith("uis/calls: gave up after 3 attempts")
    assert "the cursor has not moved" in message
    assert emulators.credentials.uis_access_token not in message
    assert store.get_cursor("uis", "calls") == cursor
    after = store.client.command(f"SELECT count() FROM {store.database}.uis__calls FINAL")
    assert after == before


def test_bad_credentials_fail_with_a_hint_and_no_secret(emulators, store, monkeypatch):
    monkeypatch.setenv("AMOCRM_TOKEN", "wrong-token-value")
    with pytest.raises(SourceError) as err:
        new_session(store).sync("amocrm", "leads")
    assert "amocrm/leads: HTTP 401" in str(err.value)
    assert "check AMOCRM_TOKEN" in str(err.value)
    assert "wrong-token-value" not in str(err.value)
