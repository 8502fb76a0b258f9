"""1C:Enterprise standard OData (v3): counterparties, contracts, sales and bank receipts.

Quirks handled here and nowhere else:
- there is no "modified since": each sync reads the cheap key scan
  (`$select=Ref_Key,DataVersion,DeletionMark`), compares DataVersions with what raw holds,
  and fetches only new or changed objects; keys gone from the scan become tombstones (but a
  scan listing an object without Ref_Key, or one Ref_Key for two objects, falls back to a
  full read that refuses the first and loads the second as an id conflict for the gate);
- no server-side paging is promised: `$top`/`$skip` over a stable `$orderby=Ref_Key`;
- entity set names differ between configurations (БП 3.0 vs УТ 11 / ERP), so they are settings;
- HTTP Basic auth; errors are `{"odata.error": {"code", "message": {"value"}}}`;
- Int64 values arrive as strings, dates are infobase-local without offset, the empty date is
  0001-01-01T00:00:00 and the empty reference is the zero GUID (staging decodes all of that).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import requests

from funnelhouse.ingest.http import HttpSource, RateLimiter, SourceError, chunked, request_json
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.secrets import basic_auth, strip_userinfo, url_secrets
from funnelhouse.ingest.settings import OneCSettings
from funnelhouse.ingest.sync import Extractor, Stream, SyncState

SOURCE = "onec"
KEYS_PER_FILTER = 20  # `Ref_Key eq guid'…' or …` keeps URLs short
FULL_FETCH_SHARE = 0.3  # above this share of changed keys, one full read is cheaper

STREAMS: dict[str, Stream] = {
    s.name: s
    for s in [
        Stream(SOURCE, "counterparties", "Counterparties with INN", "DataVersion"),
        Stream(SOURCE, "contracts", "Contracts with counterparties", "DataVersion"),
        Stream(SOURCE, "sales", "Sales documents (shipments)", "DataVersion"),
        Stream(SOURCE, "payments", "Bank receipts (payments from clients)", "DataVersion"),
    ]
}


def entity_set(name: str, settings: OneCSettings) -> str:
    return getattr(settings, f"{name}_entity")


def http_source(settings: OneCSettings) -> HttpSource:
    # `http://user:password@host/...` works too: the credentials leave the URL (which is
    # printed in errors) and count as the secrets they are.
    base_url, url_user, url_password = strip_userinfo(settings.base_url)
    user = settings.user or url_user or ""
    password = settings.password.get_secret_value() or url_password or ""
    if not base_url or not user:
        raise ValueError(
            "1C is not configured: set ONEC_BASE_URL (http://host/<infobase>/odata/"
            "standard.odata), ONEC_USER and ONEC_PASSWORD; the objects must be published in "
            "the OData composition."
        )
    session = requests.Session()
    session.auth = (user, password)
    return HttpSource(
        source=SOURCE,
        base_url=base_url,
        rate=RateLimiter(settings.rate_per_second, burst=1),
        session=session,
        secrets=(password, *basic_auth(user, password), *url_secrets(settings.base_url)),
        url_var="ONEC_BASE_URL",
        auth_fix="check ONEC_USER and ONEC_PASSWORD (an infobase user with rights to the "
        "objects published in the OData composition)",
    )


def probe(http: HttpSource, settings: OneCSettings) -> str:
    """One cheap authenticated read (one counterparty's key), for `sources check`."""
    entity = settings.counterparties_entity
    _get(http, "check", entity, {"$top": 1, "$select": "Ref_Key"})
    return f"{entity} readable"


def _get(http: HttpSource, stream: str, entity: str, params: dict[str, Any]) -> list[dict]:
    _, body = request_json(http, stream, "GET", entity, params={"$format": "json", **params})
    if isinstance(body, dict) and "odata.error" in body:
        err = body["odata.error"]
        message = (err.get("message") or {}).get("value", "")
        raise SourceError(
            SOURCE, stream, http.redact(f"{entity}: OData error {err.get('code')}: {message}")
        )
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise SourceError(SOURCE, stream, f"{entity}: expected an OData collection with `value`")
    return body["value"]


def _scan(
    http: HttpSource, stream: str, entity: str, select: str | None, page: int
) -> Iterator[list[dict]]:
    skip = 0
    while True:
        params: dict[str, Any] = {"$orderby": "Ref_Key", "$top": page, "$skip": skip}
        if select:
            params["$select"] = select
        rows = _get(http, stream, entity, params)
        if rows:
            yield rows
        if len(rows) < page:
            return
        skip += len(rows)


def _record(stream: str, row: dict) -> RawRecord:
    return RawRecord.from_json(
        row, row["Ref_Key"], row.get("DataVersion"), bool(row.get("DeletionMark"))
    )


def _require_keys(stream: str, entity: str, rows: list[dict]) -> None:
    """1C objects always have a Ref_Key; without one there is nothing to track or fetch."""
    for row in rows:
        if not row.get("Ref_Key"):
            raise SourceError(
                SOURCE, stream,
                f"{entity} returned an object without Ref_Key (expected a GUID); nothing was "
                "written for this stream and its cursor has not moved. Check the OData "
                "publication of this entity in 1C.",
                record=f"Number={row.get('Number')!r} Code={row.get('Code')!r}",
            )  # fmt: skip


def extractor(name: str, settings: OneCSettings, http: HttpSource, store: RawStore) -> Extractor:
    if name not in STREAMS:
        raise KeyError(f"1C has no stream {name!r}; streams: {', '.join(STREAMS)}")
    entity = entity_set(name, settings)
    table = STREAMS[name].table

    def run(state: SyncState) -> Iterator[list[RawRecord]]:
        stored = {} if state.full_refresh else store.stored_versions(table)
        scanned: dict[str, str] = {}
        # Objects listed without a Ref_Key, or two objects under one: such a key list cannot
        # say what changed or what was deleted. The full read below then names the object
        # without a key (and refuses it) or loads both under the one key as an id conflict
        # for the gate, and no deletion is inferred from the list.
        keyless, twice = 0, set()
        for rows in _scan(
            http, name, entity, "Ref_Key,DataVersion,DeletionMark", settings.page_size
        ):
            for row in rows:
                key, version = row.get("Ref_Key"), str(row.get("DataVersion", ""))
                if not key:
                    keyless += 1
                    continue
                if scanned.get(key, version) != version:
                    twice.add(key)
                scanned[key] = version
        changed = [k for k, v in scanned.items() if stored.get(k) != v]
        state.extra.update({"keys_scanned": len(scanned), "keys_changed": len(changed)})
        suspect = bool(keyless or twice)
        if suspect or len(changed) > FULL_FETCH_SHARE * max(len(scanned), 1):
            wanted = set(changed) | twice
            for rows in _scan(http, name, entity, None, settings.page_size):
                _require_keys(name, entity, rows)
                yield [_record(name, r) for r in rows if r.get("Ref_Key") in wanted]
        else:
            for keys in chunked(changed, KEYS_PER_FILTER):
                flt = " or ".join(f"Ref_Key eq guid'{k}'" for k in keys)
                rows = _get(http, name, entity, {"$filter": flt})
                _require_keys(name, entity, rows)
                yield [_record(name, r) for r in rows]
        gone = [
            k for k, v in stored.items() if not suspect and k not in scanned and v != "(deleted)"
        ]
        state.extra["keys_gone"] = len(gone)
        if gone:
            # Deleted outright in 1C (not just marked): a tombstone replaces the last version.
            yield [
                RawRecord.from_json({"Ref_Key": k}, k, "(deleted)", is_deleted=True) for k in gone
            ]
        # The versions in raw are the real cursor; this records when the last full scan ran.
        state.new_cursor = datetime.now(UTC).isoformat(timespec="seconds")

    return run
