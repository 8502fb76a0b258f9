"""Bitrix24 REST through an incoming webhook: deals, stage history, stages, calls, activities,
deal product rows.

Quirks handled here and nowhere else:
- the webhook URL carries the secret in its path (`/rest/<user>/<code>/`): it never reaches a
  log line or an error;
- list methods return 50 rows a call, always; `batch` runs up to 50 calls in one request, so a
  batch of 50 offsets over one keyset window reads 2 500 rows per request, and the next batch
  continues from the highest ID seen (offsets over a set that changes between requests would
  skip rows, and the documented keyset pattern is `>ID` with `order ID ASC`);
- the leaky bucket (50 deep, draining 2/s) answers 503 QUERY_LIMIT_EXCEEDED, the per-method
  time budget 429 OPERATION_TIME_LIMIT; the client's token bucket spends the 50 at once, then
  2/s, but stops one request short of full: the portal counts arrivals, which jitter;
- sub-requests of a batch fail inside a 200 in `result_error`;
- numbers and ids are strings in most methods, ints in crm.stagehistory.list; dates carry their
  offset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlencode

import requests
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from funnelhouse.ingest.http import (
    Background,
    HttpSource,
    RateLimiter,
    RetryableResponse,
    SourceError,
    SourceFatal,
    prefetch,
    request_json,
)
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.secrets import url_secrets
from funnelhouse.ingest.settings import SourceSettings
from funnelhouse.ingest.sync import Extractor, Stream, SyncState

SOURCE = "bitrix24"
PAGE = 50
_RETRYABLE_ERRORS = {"QUERY_LIMIT_EXCEEDED": 1.0, "OPERATION_TIME_LIMIT": 10.0,
                     "INTERNAL_SERVER_ERROR": None, "OVERLOAD_LIMIT": 30.0}  # fmt: skip
# Refusals a retry cannot cure, in any status (a 200 body included): the webhook is wrong,
# revoked, or lacks a scope or permission.
AUTH_ERRORS = {"NO_AUTH_FOUND", "expired_token", "invalid_token", "INVALID_CREDENTIALS",
               "insufficient_scope", "ACCESS_DENIED", "WRONG_AUTH_TYPE",
               "authorization_error", "PORTAL_DELETED"}  # fmt: skip
AUTH_FIX = ("check BITRIX24_WEBHOOK_URL (https://<portal>/rest/<user_id>/<code>/): the webhook "
            "must exist, be active and have the crm, telephony and user scopes")  # fmt: skip


class Bitrix24Settings(SourceSettings):
    model_config = SettingsConfigDict(env_prefix="BITRIX24_", extra="ignore")

    webhook_url: SecretStr = SecretStr("")  # https://<portal>/rest/<user>/<code>/ (code is secret)
    rate_per_second: float = 2.0  # leaky bucket drain on non-enterprise plans
    burst: int = 50  # bucket size on non-enterprise plans
    lookback_seconds: int = 3600
    batch_commands: int = 50  # batch takes at most 50 sub-requests


# "modified": `>=<cursor_field>` from the cursor minus the lookback, read in batches over an
#   `>ID` keyset (mutable entities: the cursor field is a time with the portal's offset);
# "appended": the `>ID` keyset from the last ID (sets that only grow; the cursor is an ID, so a
#   backfill filters `>=<created_field>` instead);
# "list": the method's own `start`/`next` paging, read in full each sync (directories).
Paging = Literal["modified", "appended", "list"]


@dataclass(frozen=True)
class Bitrix24Stream(Stream):
    """A Bitrix24 stream: REST method `path` with `params`, paged as `paging` says."""

    paging: Paging = "list"
    id_field: str = "ID"
    upper_case: bool = False  # FILTER/SORT/ORDER instead of filter/order (voximplant.*)
    created_field: str | None = None  # "appended": what a backfill filters on
    # What a stream stores when it is not the listed records themselves: each page of them
    # (e.g. changed deals) in, the pages of rows to store (e.g. their product rows) out.
    expand: Expand | None = None

    def __post_init__(self) -> None:
        if self.paging not in get_args(Paging):
            raise ValueError(f"{self.key}: paging {self.paging!r}, expected one of {Paging}")
        if self.paging != "list" and not self.cursor_field:
            raise ValueError(f"{self.key}: {self.paging} paging needs a cursor_field")
        if self.paging == "appended" and not self.created_field:
            raise ValueError(f"{self.key}: appended paging needs a created_field for backfills")


Expand = Callable[
    [Bitrix24Stream, HttpSource, SyncState, list[RawRecord]], Iterator[list[RawRecord]]
]


def _deal_product_rows(
    stream: Bitrix24Stream, http: HttpSource, state: SyncState, deals: list[RawRecord]
) -> Iterator[list[RawRecord]]:
    """The rows of every deal changed since the cursor (editing rows re-saves the deal, so
    DATE_MODIFY moves), read right after their deals were listed."""
    ids = [str(r.id) for r in deals if r.id]
    for i in range(0, len(ids), PAGE):
        rows, gone = _product_rows(http, stream.name, ids[i : i + PAGE])
        if gone:
            state.extra["deals_gone"] = state.extra.get("deals_gone", 0) + gone
        if rows:
            yield [RawRecord.from_json(r, r.get("id"), None) for r in rows]


def _stream(
    name: str, description: str, cursor: str, paging: Paging, method: str, **options: Any
) -> Bitrix24Stream:
    return Bitrix24Stream(SOURCE, name, description, cursor, paging=paging, path=method, **options)


STREAMS: dict[str, Bitrix24Stream] = {
    s.name: s
    for s in [
        _stream("deals", "Deals (crm.deal.list)", "DATE_MODIFY (unix s)", "modified",
                "crm.deal.list", params={"select": ["*", "UF_*"]}, cursor_field="DATE_MODIFY"),
        _stream("stage_history", "Deal stage moves (crm.stagehistory.list)", "ID", "appended",
                "crm.stagehistory.list", params={"entityTypeId": 2}, cursor_field="ID",
                created_field="CREATED_TIME"),
        # Every status directory (sources, deal stages of each funnel): staging picks DEAL_STAGE*.
        _stream("stages", "Deal stages of every funnel (crm.status.list)", "full", "list",
                "crm.status.list"),
        _stream("categories", "Deal funnels (crm.category.list)", "full", "list",
                "crm.category.list", params={"entityTypeId": 2}, id_field="id"),
        _stream("calls", "Telephony calls (voximplant.statistic.get)", "ID", "appended",
                "voximplant.statistic.get", cursor_field="ID", upper_case=True,
                created_field="CALL_START_DATE"),
        _stream("activities", "Activities: calls, meetings, e-mails", "LAST_UPDATED",
                "modified", "crm.activity.list", params={"select": ["*", "COMMUNICATIONS"]},
                cursor_field="LAST_UPDATED"),
        _stream("users", "Users (user.get)", "full", "list", "user.get"),
        _stream("contacts", "Contacts with phones (crm.contact.list)", "DATE_MODIFY",
                "modified", "crm.contact.list", params={"select": ["*", "PHONE"]},
                cursor_field="DATE_MODIFY"),
        _stream("companies", "Companies with phones (crm.company.list)", "DATE_MODIFY",
                "modified", "crm.company.list", params={"select": ["*", "PHONE"]},
                cursor_field="DATE_MODIFY"),
        _stream("requisites", "Requisites: company INN (crm.requisite.list)", "DATE_MODIFY",
                "modified", "crm.requisite.list", params={"select": ["*"]},
                cursor_field="DATE_MODIFY"),
        # crm.item.productrow.list needs `=ownerId`: no listing across deals, so the deals
        # changed since the cursor are listed and their rows read 50 deals a batch.
        _stream("product_rows", "Deal product rows (crm.item.productrow.list)",
                "DATE_MODIFY of their deals", "modified", "crm.deal.list",
                params={"select": ["ID", "DATE_MODIFY"]}, cursor_field="DATE_MODIFY",
                expand=_deal_product_rows),
    ]
}  # fmt: skip


def _classify(response: requests.Response) -> None:
    if response.status_code in (429, 503) or response.status_code >= 500:
        try:
            code = response.json().get("error", "")
        except ValueError:
            code = ""
        if code in _RETRYABLE_ERRORS or response.status_code >= 500:
            raise RetryableResponse(f"{response.status_code} {code}", _RETRYABLE_ERRORS.get(code))


def http_source(settings: Bitrix24Settings) -> HttpSource:
    url = settings.webhook_url.get_secret_value()
    if not url:
        raise ValueError(
            "Bitrix24 is not configured: set BITRIX24_WEBHOOK_URL to the incoming webhook "
            "(https://<portal>/rest/<user_id>/<code>/) with the crm, telephony and user scopes."
        )
    code = url.rstrip("/").rsplit("/", 1)[-1]
    return HttpSource(
        source=SOURCE,
        base_url=url.rstrip("/") + "/",
        rate=RateLimiter(settings.rate_per_second, burst=max(settings.burst - 1, 1)),
        secrets=(url, code, *url_secrets(url)),
        classify=_classify,
        url_var="BITRIX24_WEBHOOK_URL",
        auth_fix=AUTH_FIX,
    )


def _refused(http: HttpSource, stream: str, method: str, error: Any) -> SourceFatal | None:
    """An auth error code, wherever it came (a 200 body, a batch's `result_error`)."""
    if isinstance(error, dict) and error.get("error") in AUTH_ERRORS:
        return http.fatal(stream, f"{method} refused: {_error_text(error)}", AUTH_FIX)
    return None


def _call(http: HttpSource, stream: str, method: str, params: dict[str, Any]) -> dict:
    _, body = request_json(http, stream, "POST", f"{method}.json", json=params)
    if not isinstance(body, dict) or "error" in body:
        raise _refused(http, stream, method, body) or SourceError(
            SOURCE, stream, http.redact(f"{method} failed: {_error_text(body)}")
        )
    return body


def probe(http: HttpSource, settings: Bitrix24Settings) -> str:
    """One cheap authenticated call (the webhook's own user), for `sources check`."""
    body = _call(http, "check", "profile", {})
    user = body.get("result") or {}
    return f"webhook of user {user.get('ID', '?')}" if isinstance(user, dict) else "ok"


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        return f"{body.get('error', '')} {body.get('error_description', '')}".strip()
    return repr(body)[:200]


def _rows(result: Any) -> list[dict]:
    """Lists come as an array, or wrapped: stagehistory `{items}`, categories `{categories}`."""
    if isinstance(result, list):
        return result
    if isinstance(result, dict):
        for key in ("items", "categories"):
            if isinstance(result.get(key), list):
                return result[key]
    return []


def _batch_window(
    http: HttpSource,
    stream: str,
    method: str,
    query: dict[str, Any],
    commands: int,
    skip: int = 0,
) -> tuple[list[dict], bool]:
    """Up to `commands` pages of one window, from page `skip`, in one request; True when the
    window is exhausted."""
    cmd = {
        f"p{i}": f"{method}?{urlencode(_flatten({**query, 'start': (skip + i) * PAGE}))}"
        for i in range(commands)
    }
    _, body = request_json(http, stream, "POST", "batch.json", json={"halt": 0, "cmd": cmd})
    if not isinstance(body, dict) or "result" not in body:
        raise _refused(http, stream, "batch", body) or SourceError(
            SOURCE, stream, http.redact(f"batch failed: {_error_text(body)}")
        )
    result = body["result"]
    errors = result.get("result_error") or {}
    if errors:
        first = next(iter(errors.values()))
        code = first.get("error", "") if isinstance(first, dict) else ""
        if code in _RETRYABLE_ERRORS:
            raise RetryableResponse(f"batch sub-request: {code}", _RETRYABLE_ERRORS[code])
        raise _refused(http, stream, method, first) or SourceError(
            SOURCE, stream, http.redact(f"{method} in batch failed: {_error_text(first)}")
        )
    rows: list[dict] = []
    exhausted = False
    pages = result.get("result") or {}
    for i in range(commands):
        page = _rows(pages.get(f"p{i}") if isinstance(pages, dict) else None)
        rows.extend(page)
        if len(page) < PAGE:
            exhausted = True
            break
    return rows, exhausted


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """PHP-style nested query keys (filter[>ID]=5), as batch sub-requests are query strings."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                out[f"{name}[{i}]"] = item
        else:
            out[name] = value
    return out


def _keyset(
    http: HttpSource,
    stream: str,
    method: str,
    base: dict[str, Any],
    last_id: int,
    commands: int,
    upper: bool = False,
) -> Iterator[list[dict]]:
    """Batches of offsets over `ID > last_id`, moving last_id to the highest ID each time.

    Once a batch comes back full, the next window is read by two batches at once (a batch of
    50 lists is slow to answer, and the bucket takes requests faster than one at a time can
    use): the second starts on the first one's last page and is kept only if that page
    matches, i.e. nothing before it vanished in between and shifted the offsets.
    """
    filter_key = "FILTER" if upper else "filter"
    order = {"SORT": "ID", "ORDER": "ASC"} if upper else {"order": {"ID": "ASC"}}
    full = False
    while True:
        filt = {**base.get(filter_key, {}), ">ID": last_id}
        query = {**base, filter_key: filt, **order}
        ahead = (
            Background(
                lambda q=query: _batch_window(http, stream, method, q, commands, commands - 1)
            )
            if full and commands > 1
            else None
        )
        rows, exhausted = _batch_window(http, stream, method, query, commands)
        if ahead is not None and not exhausted:
            more, more_exhausted = ahead.result()
            ids = [r.get("ID") for r in rows[-PAGE:]]
            if [r.get("ID") for r in more[:PAGE]] == ids:
                rows, exhausted = rows + more[PAGE:], more_exhausted
        full = not exhausted
        if rows:
            yield rows
            # A row without an id (a source defect) still loads, for the gate to report.
            highest = max([int(r["ID"]) for r in rows if r.get("ID")] or [last_id])
            if highest <= last_id and not exhausted:
                raise SourceError(
                    SOURCE, stream, f"{method}: a full page of IDs not above {last_id} (ID > "
                    f"{last_id} was asked): the source pages in a loop",
                )  # fmt: skip
            last_id = highest
        if exhausted or not rows:
            return


def _product_rows(http: HttpSource, stream: str, deal_ids: list[str]) -> tuple[list[dict], int]:
    """The product rows of up to 50 deals in one batch, and how many of the deals are gone.

    `crm.item.productrow.list` requires `=ownerId`, so there is no listing across deals; one
    batch asks for 50 deals at once. A deal deleted since it was listed answers ACCESS_DENIED
    on its own command: skipped. All of them refused is the webhook's rights, not deletions.
    A deal with more than 50 rows pages on (`result_next`)."""
    method = "crm.item.productrow.list"

    def query(deal: str, start: int = 0) -> dict[str, Any]:
        return {"filter": {"=ownerType": "D", "=ownerId": deal}, "order": {"id": "asc"},
                "start": start}  # fmt: skip

    cmd = {f"d{d}": f"{method}?{urlencode(_flatten(query(d)))}" for d in deal_ids}
    _, body = request_json(http, stream, "POST", "batch.json", json={"halt": 0, "cmd": cmd})
    if not isinstance(body, dict) or not isinstance(body.get("result"), dict):
        raise _refused(http, stream, "batch", body) or SourceError(
            SOURCE, stream, http.redact(f"batch failed: {_error_text(body)}")
        )
    result = body["result"]
    errors = result.get("result_error") or {}
    gone = 0
    for error in errors.values():
        code = error.get("error", "") if isinstance(error, dict) else ""
        if code in _RETRYABLE_ERRORS:
            raise RetryableResponse(f"batch sub-request: {code}", _RETRYABLE_ERRORS[code])
        if code != "ACCESS_DENIED" or len(errors) == len(cmd):
            raise _refused(http, stream, method, error) or SourceError(
                SOURCE, stream, http.redact(f"{method} in batch failed: {_error_text(error)}")
            )
        gone += 1
    pages = result.get("result") or {}
    nexts = result.get("result_next") or {}
    rows: list[dict] = []
    for deal in deal_ids:
        page = pages.get(f"d{deal}") if isinstance(pages, dict) else None
        if isinstance(page, dict):
            rows.extend(page.get("productRows") or [])
        start = _next_offset(
            http, stream, nexts.get(f"d{deal}") if isinstance(nexts, dict) else None, 0
        )
        while start:
            more = _call(http, stream, method, query(deal, start))
            rows.extend((more.get("result") or {}).get("productRows") or [])
            start = _next_offset(http, stream, more.get("next"), start)
    return rows, gone


def _next_offset(http: HttpSource, stream: str, value: Any, start: int) -> int | None:
    """A page's `next` offset, which must move past `start`: a source answering the same (or
    an earlier) offset would be paged forever."""
    if value is None or value == "":
        return None
    try:
        offset = int(value)
    except (TypeError, ValueError):
        raise SourceError(
            SOURCE, stream, http.redact(f"next offset {value!r} is no number")
        ) from None
    if offset <= start:
        raise SourceError(
            SOURCE,
            stream,
            f"next offset {offset} does not move past {start}: the source pages in a loop",
        )
    return offset


def _to_unix(value: str | None) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(value).timestamp())


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds")


Read = Callable[
    [Bitrix24Stream, Bitrix24Settings, HttpSource, SyncState], Iterator[list[RawRecord]]
]


def _read_modified(
    stream: Bitrix24Stream, settings: Bitrix24Settings, http: HttpSource, state: SyncState
) -> Iterator[list[RawRecord]]:
    field = stream.cursor_field or ""
    base: dict[str, Any] = dict(stream.params)
    if state.since is not None:
        base["filter"] = {f">={field}": _iso(int(state.since))}
    elif state.cursor is not None:
        since = max(int(float(state.cursor)) - settings.lookback_seconds, 0)
        base["filter"] = {f">={field}": _iso(since)}
    pages = _keyset(http, stream.name, stream.path, base, 0, settings.batch_commands)
    for rows in prefetch(pages):
        out = []
        for r in rows:
            stamp = _to_unix(r.get(field))
            state.advance(stamp, at=stamp)
            out.append(RawRecord.from_json(r, r.get(stream.id_field), stamp))
        yield out


def _read_appended(
    stream: Bitrix24Stream, settings: Bitrix24Settings, http: HttpSource, state: SyncState
) -> Iterator[list[RawRecord]]:
    field = stream.cursor_field or ""
    last = 0 if state.cursor is None else int(float(state.cursor))
    params = dict(stream.params)
    if state.since is not None:  # ids say nothing of time: filter on creation instead
        last = 0
        filter_key = "FILTER" if stream.upper_case else "filter"
        params = {**params, filter_key: {f">={stream.created_field}": _iso(int(state.since))}}
    pages = _keyset(http, stream.name, stream.path, params, last, settings.batch_commands,
                    upper=stream.upper_case)  # fmt: skip
    for rows in prefetch(pages):
        out = []
        for r in rows:
            state.advance(r.get(field))
            out.append(RawRecord.from_json(r, r.get(stream.id_field), r.get(field)))
        yield out


def _read_list(
    stream: Bitrix24Stream, settings: Bitrix24Settings, http: HttpSource, state: SyncState
) -> Iterator[list[RawRecord]]:
    start = 0
    while True:
        body = _call(http, stream.name, stream.path, {**stream.params, "start": start})
        rows = _rows(body.get("result"))
        if rows:
            yield [RawRecord.from_json(r, r.get(stream.id_field), None) for r in rows]
        if "next" not in body or not rows:
            return
        start = _next_offset(http, stream.name, body["next"], start)
        if start is None:
            return


READS: dict[str, Read] = {
    "modified": _read_modified,
    "appended": _read_appended,
    "list": _read_list,
}


def extractor(
    stream: Bitrix24Stream, settings: Bitrix24Settings, http: HttpSource, store: RawStore
) -> Extractor:
    """The extraction `stream` declares; the sync runner owns writing and the cursor."""
    read, expand = READS[stream.paging], stream.expand

    def run(state: SyncState) -> Iterator[list[RawRecord]]:
        for records in read(stream, settings, http, state):
            if expand is None:
                yield records
            else:
                yield from expand(stream, http, state, records)

    return run
