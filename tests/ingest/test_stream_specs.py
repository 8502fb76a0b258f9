"""A stream is its spec: a new one syncs through its source's one extractor with no code of
its own, and a spec its extractor could not read fails where it is declared."""

from __future__ import annotations

import pytest

from funnelhouse.ingest import amocrm, bitrix24, onec
from funnelhouse.simulator.export import streams
from tests.ingest.conftest import new_session


def test_a_stream_added_as_one_spec_line_syncs(emulators, store, company, monkeypatch):
    spec = amocrm._stream("lead_additions", "lead_added events", "events", "/api/v4/events",
                          "events", cursor_field="created_at",
                          params={"filter[type]": "lead_added"})  # fmt: skip
    monkeypatch.setitem(amocrm.STREAMS, spec.name, spec)
    result = new_session(store).sync("amocrm", "lead_additions")
    served = [e for e in streams(company, now=emulators.clock)["amocrm"]["events"]
              if e["type"] == "lead_added"]  # fmt: skip
    want = {str(e["id"]) for e in served}
    rows = store.client.query(f"SELECT id FROM {store.database}.{spec.table} FINAL").result_rows
    assert want and {i for (i,) in rows} == want
    assert result.rows == len(want)
    assert result.cursor_after == str(max(e["created_at"] for e in served))


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: amocrm._stream("x", "", "keyset", "/api/v4/x", "x"),
         "amocrm/x: keyset paging needs a cursor_field"),
        (lambda: amocrm._stream("x", "", "scroll", "/api/v4/x", "x"),  # type: ignore[arg-type]
         "amocrm/x: paging 'scroll'"),
        (lambda: bitrix24._stream("x", "", "ID", "appended", "x.list", cursor_field="ID"),
         "bitrix24/x: appended paging needs a created_field"),
        (lambda: onec._stream("x", "", "x_entity"),
         "onec/x: entity_setting 'x_entity' is not a OneCSettings field"),
    ],
)  # fmt: skip
def test_a_spec_its_extractor_cannot_read_fails_where_declared(declare, message):
    with pytest.raises(ValueError, match=message):
        declare()
