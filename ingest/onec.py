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

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import requests
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from funnelhouse.ingest.http import HttpSource, RateLimiter, SourceError, chunked, request_json
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.secrets import basic_auth, strip_userinfo, url_secrets
from funnelhouse.ingest.settings import SourceSettings
from funnelhouse.ingest.sync import Extractor, Stream, SyncState

SOURCE = "onec"
KEYS_PER_FILTER = 20  # `Ref_Key eq guid'…' or …` keeps URLs short
FULL_FETCH_SHARE = 0.3  # above this share of changed keys, one full read is cheaper
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class OneCSettings(SourceSettings):
    model_config = SettingsConfigDict(env_prefix="ONEC_", extra="ignore")

    base_url: str = ""  # http(s)://host/<infobase>/odata/standard.odata
    user: str = ""
    password: SecretStr = SecretStr("")
    rate_per_second: float = 10.0
    page_size: int = 1000
    timezone: str = "Europe/Moscow"  # infobase local time without offset
    # Entity sets differ between configurations (БП 3.0 vs УТ 11 / ERP): check $metadata.
    counterparties_entity: str = "Catalog_Контрагенты"
    contracts_entity: str = "Catalog_ДоговорыКонтрагентов"
    sales_entity: str = "Document_РеализацияТоваровУслуг"
    payments_entity: str = "Document_ПоступлениеНаРасчетныйСчет"


@dataclass(frozen=True)
class OneCStream(Stream):
    """A 1C entity set: the key scan ($skip over $orderby=<id_field>) picks the objects whose
    <cursor_field> differs from raw's, and only those are read. `path` is empty: the entity
    set's name is the setting `entity_setting` names, as configurations name them differently."""

    paging: Literal["versions"] = "versions"
    cursor_field: str | None = "DataVersion"
    id_field: str = "Ref_Key"
    deletion_field: str = "DeletionMark"
    entity_setting: str = ""  # the OneCSettings field holding the entity set

    def __post_init__(self) -> None:
        if self.entity_setting not in OneCSettings.model_fields:
            raise ValueError(
                f"{self.key}: entity_setting {self.entity_setting!r} is not a OneCSettings "
                'field; add `<name>_entity: str = "<entity set>"` there and name it here'
            )

    def entity_set(self, settings: OneCSettings) -> str:
        return getattr(settings, self.entity_setting)


def _stream(name: str, description: str, entity_setting: str) -> OneCStream:
    return OneCStream(SOURCE, name, description, "DataVersion", entity_setting=entity_setting)


STREAMS: dict[str, OneCStream] = {
    s.name: s
    for s in [
        _stream("counterparties", "Counterparties with INN", "counterparties_entity"),
        _stream("contracts", "Contracts with counterparties", "contracts_entity"),
        _stream("sales", "Sales documents (shipments)", "sales_entity"),
        _stream("payments", "Bank receipts (payments from clients)", "payments_entity"),
    ]
}


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
    entity = STREAMS["counterparties"].entity_set(settings)
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
    for i, row in enumerate(body["value"]):
        if not isinstance(row, dict):
            raise SourceError(
                SOURCE, stream,
                f"{entity}: item {i} of `value` is {type(row).__name__}, expected an object; "
                "nothing was written for this stream and its cursor has not moved",
            )  # fmt: skip
    return body["value"]


def _scan(
    http: HttpSource, stream: OneCStream, entity: str, select: str | None, page: int
) -> Iterator[list[dict]]:
    skip = 0
    previous: set[Any] = set()
    while True:
        params: dict[str, Any] = {"$orderby": stream.id_field, "$top": page, "$skip": skip}
        if select:
            params["$select"] = select
        rows = _get(http, stream.name, entity, params)
        for row in rows:  # a key missing is the caller's to handle; any other is a GUID
            if row.get(stream.id_field):
                _require_guid(stream, entity, row[stream.id_field])
        keys = {row.get(stream.id_field) or "" for row in rows}
        if skip and rows and keys == previous:
            # A server that ignores $skip (or $orderby) answers the same page again: it would
            # be read forever. (An object created during the scan shifts the pages after it by
            # one: a page then repeats a key, not the whole page.)
            raise SourceError(
                SOURCE, stream.name,
                f"{entity}: the page at $skip={skip} repeats the page before it: the server "
                "ignores $skip or $orderby, and the scan would not end. "
                "Check the OData publication of this entity in 1C; nothing was written for "
                "this stream and its cursor has not moved.",
            )  # fmt: skip
        if rows:
            yield rows
        if len(rows) < page:
            return
        skip += len(rows)
        previous = keys


def _record(stream: OneCStream, row: dict) -> RawRecord:
    return RawRecord.from_json(
        row,
        row[stream.id_field],
        row.get(stream.cursor_field or ""),
        bool(row.get(stream.deletion_field)),
    )


def _require_guid(stream: OneCStream, entity: str, key: object) -> None:
    """A key the scan read is sent back in a `$filter` (`guid'<key>'`): anything but a GUID
    would change that filter, and 1C's keys are always GUIDs."""
    if not (isinstance(key, str) and GUID.fullmatch(key)):
        raise SourceError(
            SOURCE, stream.name,
            f"{entity} returned a {stream.id_field} that is not a GUID (expected 8-4-4-4-12 "
            "hex digits); nothing was written for this stream and its cursor has not moved. "
            "Check the OData publication of this entity in 1C.",
            record=f"{stream.id_field}={str(key)[:100]!r}",
        )  # fmt: skip


def _require_keys(stream: OneCStream, entity: str, rows: list[dict]) -> None:
    """1C objects always have a Ref_Key; without one there is nothing to track or fetch."""
    for row in rows:
        if row.get(stream.id_field):
            _require_guid(stream, entity, row[stream.id_field])
        else:
            raise SourceError(
                SOURCE, stream.name,
                f"{entity} returned an object without {stream.id_field} (expected a GUID); "
                "nothing was written for this stream and its cursor has not moved. Check the "
                "OData publication of this entity in 1C.",
                record=f"Number={row.get('Number')!r} Code={row.get('Code')!r}",
            )  # fmt: skip


def extractor(
    stream: OneCStream, settings: OneCSettings, http: HttpSource, store: RawStore
) -> Extractor:
    """The extraction `stream` declares; the sync runner owns writing and the cursor."""
    entity = stream.entity_set(settings)
    key_field, version_field = stream.id_field, stream.cursor_field or ""

    def run(state: SyncState) -> Iterator[list[RawRecord]]:
        stored = {} if state.full_refresh else store.stored_versions(stream.table)
        scanned: dict[str, str] = {}
        # Objects listed without a Ref_Key, or two objects under one: such a key list cannot
        # say what changed or what was deleted. The full read below then names the object
        # without a key (and refuses it) or loads both under the one key as an id conflict
        # for the gate, and no deletion is inferred from the list.
        keyless, twice = 0, set()
        select = f"{key_field},{version_field},{stream.deletion_field}"
        for rows in _scan(http, stream, entity, select, settings.page_size):
            for row in rows:
                key, version = row.get(key_field), str(row.get(version_field, ""))
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
            for rows in _scan(http, stream, entity, None, settings.page_size):
                _require_keys(stream, entity, rows)
                yield [_record(stream, r) for r in rows if r.get(key_field) in wanted]
        else:
            for keys in chunked(changed, KEYS_PER_FILTER):
                flt = " or ".join(f"{key_field} eq guid'{k}'" for k in keys)
                rows = _get(http, stream.name, entity, {"$filter": flt})
                _require_keys(stream, entity, rows)
                yield [_record(stream, r) for r in rows]
        gone = [
            k for k, v in stored.items() if not suspect and k not in scanned and v != "(deleted)"
        ]
        state.extra["keys_gone"] = len(gone)
        if gone:
            # Deleted outright in 1C (not just marked): a tombstone replaces the last version.
            yield [
                RawRecord.from_json({key_field: k}, k, "(deleted)", is_deleted=True) for k in gone
            ]
        # The versions in raw are the real cursor; this records when the last full scan ran.
        state.new_cursor = datetime.now(UTC).isoformat(timespec="seconds")

    return run
