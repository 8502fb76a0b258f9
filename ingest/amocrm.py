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

from collections.abc import Iterator
from typing import Any

import requests

from funnelhouse.ingest.http import (
    HttpSource,
    RetryableResponse,
    WindowLimiter,
    prefetch,
    request_json,
)
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.settings import AmoCrmSettings
from funnelhouse.ingest.sync import Extractor, Stream, SyncState

SOURCE = "amocrm"
MAX_PAGES = 1_000_000  # a guard against an API that ignores our filters
# Pages read ahead while the caller writes: a raw insert takes as long as several requests, and
# pages of at most 250 records are small.
AHEAD = 8


def _stream(name: str, description: str, cursor: str) -> Stream:
    return Stream(SOURCE, name, description, cursor)


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in [
        _stream("leads", "Deals (amoCRM calls them leads), deleted ones flagged", "updated_at"),
        _stream("pipelines", "Pipelines with their statuses (the stage directory)", "full"),
        _stream("status_changes", "lead_status_changed events: the stage history", "created_at"),
        _stream(
            "call_notes", "call_in / call_out notes on leads, with the PBX call id", "updated_at"
        ),
        _stream("users", "Managers", "full"),
        _stream("contacts", "Contacts with phones", "updated_at"),
        _stream("companies", "Companies with INN", "updated_at"),
        _stream("tasks", "Tasks (activity)", "updated_at"),
        _stream("loss_reasons", "Loss reasons", "full"),
        _stream("catalog_elements", "Products: elements of every catalogue", "full"),
    ]
}


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


def _records(rows: list[dict], state: SyncState, cursor_field: str | None) -> list[RawRecord]:
    out = []
    for row in rows:
        cursor = row.get(cursor_field) if cursor_field else None
        state.advance(cursor, at=float(cursor) if cursor is not None else None)
        out.append(RawRecord.from_json(row, row.get("id"), cursor, bool(row.get("is_deleted"))))
    return out


def _start(state: SyncState, lookback: int) -> int:
    if state.since is not None:
        return int(state.since)
    return 0 if state.cursor is None else max(int(float(state.cursor)) - lookback, 0)


def extractor(name: str, settings: AmoCrmSettings, http: HttpSource, store: RawStore) -> Extractor:
    """The extraction for one stream; the sync runner owns writing and the cursor."""
    limit = settings.page_size

    def keyset(path: str, key: str, params: dict[str, Any] | None = None) -> Extractor:
        def run(state: SyncState) -> Iterator[list[RawRecord]]:
            start = _start(state, settings.lookback_seconds)
            rows_iter = _keyset(http, name, path, key, params or {}, "updated_at", start, limit)
            for rows in prefetch(rows_iter, AHEAD):
                yield _records(rows, state, "updated_at")

        return run

    def full(path: str, key: str, params: dict[str, Any] | None = None) -> Extractor:
        def run(state: SyncState) -> Iterator[list[RawRecord]]:
            for rows in prefetch(
                _pages(http, name, path, key, {"limit": limit, **(params or {})}), AHEAD
            ):
                yield _records(rows, state, None)

        return run

    if name == "leads":
        live = keyset(
            "/api/v4/leads", "leads", {"with": "contacts,loss_reason,source_id,catalog_elements"}
        )

        def leads(state: SyncState) -> Iterator[list[RawRecord]]:
            yield from live(state)
            # Deleted leads vanish from the normal list; only this view shows them.
            deleted = _pages(http, name, "/api/v4/leads", "leads",
                             {"with": "only_deleted", "limit": limit})  # fmt: skip
            for rows in prefetch(deleted, AHEAD):
                yield [
                    RawRecord.from_json(r, r.get("id"), r.get("updated_at"), is_deleted=True)
                    for r in rows
                ]

        return leads
    if name == "status_changes":

        def events(state: SyncState) -> Iterator[list[RawRecord]]:
            # Events never change and new ones only add to the set, so page numbers are safe:
            # a shift can repeat a row (harmless, rows are keyed by id) but never skip one.
            start = _start(state, settings.lookback_seconds)
            params = {"filter[type]": "lead_status_changed", "filter[created_at][from]": start,
                      "limit": settings.events_page_size}  # fmt: skip
            for rows in prefetch(_pages(http, name, "/api/v4/events", "events", params), AHEAD):
                yield _records(rows, state, "created_at")

        return events
    if name == "call_notes":
        return keyset(
            "/api/v4/leads/notes",
            "notes",
            {"filter[note_type][0]": "call_in", "filter[note_type][1]": "call_out"},
        )
    if name in ("contacts", "companies", "tasks"):
        return keyset(f"/api/v4/{name}", name)
    if name == "pipelines":
        return full("/api/v4/leads/pipelines", "pipelines")
    if name == "users":
        return full("/api/v4/users", "users")
    if name == "loss_reasons":
        return full("/api/v4/leads/loss_reasons", "loss_reasons")
    if name == "catalog_elements":

        def elements(state: SyncState) -> Iterator[list[RawRecord]]:
            # Leads link elements by id with a quantity; names and prices live here.
            catalogs = _pages(http, name, "/api/v4/catalogs", "catalogs", {"limit": limit})
            for catalog_id in [c.get("id") for rows in catalogs for c in rows]:
                path = f"/api/v4/catalogs/{catalog_id}/elements"
                for rows in prefetch(_pages(http, name, path, "elements", {"limit": limit}), AHEAD):
                    yield _records(rows, state, None)

        return elements
    raise KeyError(f"amoCRM has no stream {name!r}; streams: {', '.join(STREAMS)}")
