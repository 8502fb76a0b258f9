"""amoCRM (Kommo) REST API v4: leads (with their linked products), stage history, call notes,
the directories and the product catalogues.

Quirks handled here and nowhere else:
- past the last page, or when a filter matches nothing, the API answers 204 with no body;
  the last page has no `_links.next`; there is no total count;
- over 7 requests in any second it answers 429 with a body that is not JSON: the client
  counts a sliding window too, not an average rate;
- mutable entities (leads, contacts, companies, tasks, notes) are paged by keyset on
  `updated_at` (`filter[updated_at][from]` + `order[updated_at]=asc`), because page numbers
  over a set that changes while we read it skip records;
- statuses 142 (won) and 143 (lost) exist in every pipeline, so a status is only unique
  together with its pipeline id;
- deleted leads are only listed with `with=only_deleted`;
- timestamps are unix seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import requests
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from funnelhouse.ingest.http import (
    HttpSource,
    RetryableResponse,
    WindowLimiter,
    prefetch,
    request_json,
)
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.settings import SourceSettings
from funnelhouse.ingest.sync import Extractor, Stream, SyncState

SOURCE = "amocrm"
MAX_PAGES = 1_000_000  # a guard against an API that ignores our filters
# Pages read ahead while the caller writes: a raw insert takes as long as several requests, and
# pages of at most 250 records are small.
AHEAD = 8


class AmoCrmSettings(SourceSettings):
    model_config = SettingsConfigDict(env_prefix="AMOCRM_", extra="ignore")

    base_url: str = ""  # https://<subdomain>.amocrm.ru
    token: SecretStr = SecretStr("")  # long-lived token of a private integration
    # Documented: "not more than 7 requests per second", counted over any second: the client
    # sends at most 7 in any (1 s + margin) of its own clock; the margin absorbs the jitter
    # between sending and the server's count (each 429 costs a second of back-off).
    rate_per_second: float = 7.0
    window_margin_seconds: float = 0.03
    lookback_seconds: int = 3600  # `[from]` inclusiveness is unconfirmed; overlap a little
    page_size: int = 250
    events_page_size: int = 100  # the RU docs' cap; the EN docs say 250


# "pages": page numbers over the whole set, read in full each sync (directories);
# "keyset": `filter[<cursor_field>][from]` from the cursor minus the lookback, moved to the
#   newest value seen (mutable entities);
# "events": page numbers over `filter[<cursor_field>][from]` from the cursor minus the
#   lookback, `events_page_size` a page (sets that only grow: a shift repeats, never skips).
Paging = Literal["pages", "keyset", "events"]


@dataclass(frozen=True)
class AmoStream(Stream):
    """An amoCRM stream: `path` answers `_embedded.<embedded>`, paged as `paging` says."""

    paging: Paging = "pages"
    embedded: str = ""  # the `_embedded` key that holds the records
    # Params of a second, page-numbered pass that lists the deleted records (flagged deleted):
    # amoCRM drops them from the normal list and shows them only with `with=only_deleted`.
    deleted: Mapping[str, Any] | None = None
    # (path, `_embedded` key) of a parent list: `path` holds `{id}` and is read for each parent.
    each: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.paging not in get_args(Paging):
            raise ValueError(f"{self.key}: paging {self.paging!r}, expected one of {Paging}")
        if self.paging != "pages" and not self.cursor_field:
            raise ValueError(f"{self.key}: {self.paging} paging needs a cursor_field")


def _stream(
    name: str, description: str, paging: Paging, path: str, embedded: str, **options: Any
) -> AmoStream:
    cursor = options.get("cursor_field") or "full"
    return AmoStream(SOURCE, name, description, cursor, paging=paging, path=path,
                     embedded=embedded, **options)  # fmt: skip


STREAMS: dict[str, AmoStream] = {
    s.name: s
    for s in [
        _stream("leads", "Deals (amoCRM calls them leads), deleted ones flagged", "keyset",
                "/api/v4/leads", "leads", cursor_field="updated_at",
                params={"with": "contacts,loss_reason,source_id,catalog_elements"},
                deleted={"with": "only_deleted"}),
        _stream("pipelines", "Pipelines with their statuses (the stage directory)", "pages",
                "/api/v4/leads/pipelines", "pipelines"),
        _stream("status_changes", "lead_status_changed events: the stage history", "events",
                "/api/v4/events", "events", cursor_field="created_at",
                params={"filter[type]": "lead_status_changed"}),
        _stream("call_notes", "call_in / call_out notes on leads, with the PBX call id",
                "keyset", "/api/v4/leads/notes", "notes", cursor_field="updated_at",
                params={"filter[note_type][0]": "call_in", "filter[note_type][1]": "call_out"}),
        _stream("users", "Managers", "pages", "/api/v4/users", "users"),
        _stream("contacts", "Contacts with phones", "keyset", "/api/v4/contacts", "contacts",
                cursor_field="updated_at"),
        _stream("companies", "Companies with INN", "keyset", "/api/v4/companies", "companies",
                cursor_field="updated_at"),
        _stream("tasks", "Tasks (activity)", "keyset", "/api/v4/tasks", "tasks",
                cursor_field="updated_at"),
        _stream("loss_reasons", "Loss reasons", "pages", "/api/v4/leads/loss_reasons",
                "loss_reasons"),
        # Leads link elements by id with a quantity; names and prices live here.
        _stream("catalog_elements", "Products: elements of every catalogue", "pages",
                "/api/v4/catalogs/{id}/elements", "elements",
                each=("/api/v4/catalogs", "catalogs")),
    ]
}  # fmt: skip


def _classify(response: requests.Response) -> None:
    if response.status_code == 429:
        # amoCRM's throttle answer is not JSON; a Retry-After header is not promised.
        raise RetryableResponse("429 Too Many Requests (amoCRM rate limit)", retry_after=1.0)


def http_source(settings: AmoCrmSettings) -> HttpSource:
    token = settings.token.get_secret_value()
    if not settings.base_url or not token:
        raise ValueError(
            "amoCRM is not configured: set AMOCRM_BASE_URL (https://<subdomain>.amocrm.ru) "
            "and AMOCRM_TOKEN (a long-lived token of a private integration)."
        )
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/hal+json"})
    return HttpSource(
        source=SOURCE,
        base_url=settings.base_url,
        rate=_limiter(settings),
        session=session,
        secrets=(token,),
        classify=_classify,
        url_var="AMOCRM_BASE_URL",
        auth_fix="check AMOCRM_TOKEN (a long-lived token of the private integration; it may "
        "have been revoked or have expired) and that AMOCRM_BASE_URL is your account's address",
    )


def _limiter(settings: AmoCrmSettings) -> WindowLimiter:
    """`rate_per_second` as whole requests per window: 7/s is 7 in any 1 s (+ margin)."""
    limit = max(int(settings.rate_per_second), 1)
    return WindowLimiter(limit, limit / settings.rate_per_second + settings.window_margin_seconds)


def probe(http: HttpSource, settings: AmoCrmSettings) -> str:
    """One cheap authenticated call (the account), for `sources check`."""
    _, body = request_json(http, "check", "GET", "/api/v4/account")
    return f"account {body.get('subdomain') or body.get('id')}" if isinstance(body, dict) else "ok"


def _embedded(body: Any, key: str) -> list[dict]:
    if not body:
        return []
    return list((body.get("_embedded") or {}).get(key) or [])


def _has_next(body: Any) -> bool:
    return bool(body and (body.get("_links") or {}).get("next"))


def _pages(
    http: HttpSource, stream: str, path: str, key: str, params: dict[str, Any]
) -> Iterator[list[dict]]:
    """Page-number paging for small or immutable sets: stop on 204, no `next`, or empty."""
    for page in range(1, MAX_PAGES):
        response, body = request_json(http, stream, "GET", path, params={**params, "page": page})
        records = _embedded(body, key)
        if response.status_code == 204 or not records:
            return
        yield records
        if not _has_next(body):
            return


def _keyset(
    http: HttpSource,
    stream: str,
    path: str,
    key: str,
    params: dict[str, Any],
    field: str,
    start: int,
    limit: int,
) -> Iterator[list[dict]]:
    """Keyset paging on a timestamp: `[from]` moves to the newest value seen, so records
    updated meanwhile come later instead of shifting pages under us. Ties on one second
    larger than a page are read by page number within that second."""
    frm = start
    pages = 0
    while pages < MAX_PAGES:
        for page in range(1, MAX_PAGES):
            query = {**params, f"filter[{field}][from]": frm, f"order[{field}]": "asc",
                     "limit": limit, "page": page}  # fmt: skip
            response, body = request_json(http, stream, "GET", path, params=query)
            records = _embedded(body, key)
            pages += 1
            if response.status_code == 204 or not records:
                return
            yield records
            newest = max(int(r.get(field) or 0) for r in records)
            if len(records) < limit and not _has_next(body):
                return
            if newest > frm:
                frm = newest
                break
            # A full page all within second `frm`: read the next page of that second.
    return


def _records(rows: list[dict], state: SyncState, stream: AmoStream) -> list[RawRecord]:
    out = []
    for row in rows:
        cursor = row.get(stream.cursor_field) if stream.cursor_field else None
        state.advance(cursor, at=float(cursor) if cursor is not None else None)
        out.append(
            RawRecord.from_json(row, row.get(stream.id_field), cursor, bool(row.get("is_deleted")))
        )
    return out


def _start(state: SyncState, lookback: int) -> int:
    if state.since is not None:
        return int(state.since)
    return 0 if state.cursor is None else max(int(float(state.cursor)) - lookback, 0)


Read = Callable[[AmoStream, AmoCrmSettings, HttpSource, SyncState], Iterator[list[RawRecord]]]


def _read_pages(
    stream: AmoStream, settings: AmoCrmSettings, http: HttpSource, state: SyncState
) -> Iterator[list[RawRecord]]:
    limit = settings.page_size
    paths = [stream.path]
    if stream.each:
        parents = _pages(http, stream.name, *stream.each, {"limit": limit})
        paths = [stream.path.format(id=p.get("id")) for rows in parents for p in rows]
    for path in paths:
        pages = _pages(http, stream.name, path, stream.embedded, {"limit": limit, **stream.params})
        for rows in prefetch(pages, AHEAD):
            yield _records(rows, state, stream)


def _read_keyset(
    stream: AmoStream, settings: AmoCrmSettings, http: HttpSource, state: SyncState
) -> Iterator[list[RawRecord]]:
    start = _start(state, settings.lookback_seconds)
    pages = _keyset(http, stream.name, stream.path, stream.embedded, stream.params,
                    stream.cursor_field or "", start, settings.page_size)  # fmt: skip
    for rows in prefetch(pages, AHEAD):
        yield _records(rows, state, stream)


def _read_events(
    stream: AmoStream, settings: AmoCrmSettings, http: HttpSource, state: SyncState
) -> Iterator[list[RawRecord]]:
    # Events never change and new ones only add to the set, so page numbers are safe: a
    # shift can repeat a row (harmless, rows are keyed by id) but never skip one.
    start = _start(state, settings.lookback_seconds)
    params = {**stream.params, f"filter[{stream.cursor_field}][from]": start,
              "limit": settings.events_page_size}  # fmt: skip
    for rows in prefetch(_pages(http, stream.name, stream.path, stream.embedded, params), AHEAD):
        yield _records(rows, state, stream)


def _read_deleted(
    stream: AmoStream, settings: AmoCrmSettings, http: HttpSource
) -> Iterator[list[RawRecord]]:
    """The records only the deleted view lists, flagged deleted; they never move the cursor."""
    params = {**(stream.deleted or {}), "limit": settings.page_size}
    for rows in prefetch(_pages(http, stream.name, stream.path, stream.embedded, params), AHEAD):
        yield [
            RawRecord.from_json(
                r, r.get(stream.id_field), r.get(stream.cursor_field or ""), is_deleted=True
            )
            for r in rows
        ]


READS: dict[str, Read] = {"pages": _read_pages, "keyset": _read_keyset, "events": _read_events}


def extractor(
    stream: AmoStream, settings: AmoCrmSettings, http: HttpSource, store: RawStore
) -> Extractor:
    """The extraction `stream` declares; the sync runner owns writing and the cursor."""
    read = READS[stream.paging]

    def run(state: SyncState) -> Iterator[list[RawRecord]]:
        yield from read(stream, settings, http, state)
        if stream.deleted is not None:
            yield from _read_deleted(stream, settings, http)

    return run
