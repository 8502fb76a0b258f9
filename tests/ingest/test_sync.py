"""Full and incremental sync of every stream against the emulators: what lands in raw is
exactly what the APIs serve at the clock, one current version per record."""

from __future__ import annotations

import json

from funnelhouse.ingest.sources import SOURCES
from funnelhouse.simulator.export import streams
from tests.ingest.conftest import new_session

# Our stream names where the simulator's exporter names them differently.
EXPORT_NAMES = {("amocrm", "status_changes"): "events"}
ID_KEYS = {"amocrm": "id", "bitrix24": "ID", "uis": "id", "onec": "Ref_Key"}
VERSION_KEYS = {"amocrm": "updated_at", "bitrix24": "DATE_MODIFY", "uis": "talk_duration",
                "onec": "DataVersion"}  # fmt: skip


def expected(company, clock) -> dict[tuple[str, str], dict[str, object]]:
    """{(source, stream): {id: version marker}} as the simulator serves at `clock`."""
    served = streams(company, now=clock)
    out = {}
    for source in SOURCES.values():
        for name in source.streams:
            records = list(served[source.name][EXPORT_NAMES.get((source.name, name), name)])
            if (source.name, name) == ("amocrm", "leads"):
                records += list(served["amocrm"]["leads_deleted"])
            if (source.name, name) == ("amocrm", "status_changes"):  # only stage moves
                records = [r for r in records if r["type"] == "lead_status_changed"]
            key, version = ID_KEYS[source.name], VERSION_KEYS[source.name]
            out[(source.name, name)] = {
                str(r.get(key, r.get("id"))): r.get(version) for r in records
            }
    return out


def loaded(store, only=None) -> dict[tuple[str, str], dict[str, object]]:
    out = {}
    for source in SOURCES.values():
        for name, stream in source.streams.items():
            if only is not None and (source.name, name) not in only:
                continue
            rows = store.client.query(
                f"SELECT id, payload FROM {store.database}.{stream.table} FINAL"
            ).result_rows
            version = VERSION_KEYS[source.name]
            out[(source.name, name)] = {i: json.loads(p).get(version) for i, p in rows}
    return out


def sync_all(store, **kwargs) -> dict:
    session = new_session(store)
    return {
        (s.name, name): session.sync(s.name, name, **kwargs)
        for s in SOURCES.values()
        for name in s.streams
    }


def test_full_then_incremental_sync_matches_the_sources(emulators, store, company):
    first = sync_all(store)
    truth = expected(company, emulators.clock)
    assert loaded(store) == truth
    assert all(r.rows > 0 for r in first.values()), {k: r.rows for k, r in first.items()}

    emulators.advance(days=3)  # new leads, calls, stage moves, edited 1C documents
    second = sync_all(store)
    truth_later = expected(company, emulators.clock)
    assert loaded(store) == truth_later
    grown = {k for k in truth_later if len(truth_later[k]) > len(truth[k])}
    assert {("amocrm", "leads"), ("uis", "calls"), ("amocrm", "status_changes")} <= grown
    # Incremental runs read from the cursor (minus a lookback), not everything again.
    for key in [("amocrm", "leads"), ("uis", "calls"), ("bitrix24", "stage_history")]:
        assert second[key].rows < len(truth_later[key]), key
        assert second[key].cursor_after >= first[key].cursor_after
