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

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

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
from funnelhouse.ingest.settings import Bitrix24Settings
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

STREAMS: dict[str, Stream] = {
    s.name: s
    for s in [
        Stream(SOURCE, "deals", "Deals (crm.deal.list)", "DATE_MODIFY (unix s)"),
        Stream(SOURCE, "stage_history", "Deal stage moves (crm.stagehistory.list)", "ID"),
        Stream(SOURCE, "stages", "Deal stages of every funnel (crm.status.list)", "full"),
        Stream(SOURCE, "categories", "Deal funnels (crm.category.list)", "full"),
        Stream(SOURCE, "calls", "Telephony calls (voximplant.statistic.get)", "ID"),
        Stream(SOURCE, "activities", "Activities: calls, meetings, e-mails", "LAST_UPDATED"),
        Stream(SOURCE, "users", "Users (user.get)", "full"),
        Stream(SOURCE, "contacts", "Contacts with phones (crm.contact.list)", "DATE_MODIFY"),
        Stream(SOURCE, "companies", "Companies with phones (crm.company.list)", "DATE_MODIFY"),
        Stream(SOURCE, "requisites", "Requisites: company INN (crm.requisite.list)", "DATE_MODIFY"),
        Stream(
            SOURCE,
            "product_rows",
            "Deal product rows (crm.item.productrow.list)",
            "DATE_MODIFY of their deals",
        ),
    ]
}


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
    id_key: str,
    filter_key: str,
    order_key: str,
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
    order = {"SORT": "ID", "ORDER": "ASC"} if upper else {order_key: {"ID": "ASC"}}
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
            ids = [r.get(id_key) for r in rows[-PAGE:]]
            if [r.get(id_key) for r in more[:PAGE]] == ids:
                rows, exhausted = rows + more[PAGE:], more_exhausted
        full = not exhausted
        if rows:
            yield rows
            # A row without an id (a source defect) still loads, for the gate to report.
            last_id = max([int(r[id_key]) for r in rows if r.get(id_key)] or [last_id])
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
        start = nexts.get(f"d{deal}") if isinstance(nexts, dict) else None
        while start:
            more = _call(http, stream, method, query(deal, int(start)))
            rows.extend((more.get("result") or {}).get("productRows") or [])
            start = more.get("next")
    return rows, gone


def _to_unix(value: str | None) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(value).timestamp())


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds")


def extractor(
    name: str, settings: Bitrix24Settings, http: HttpSource, store: RawStore
) -> Extractor:
    n = settings.batch_commands

    def modified(method: str, field: str, select: list[str]) -> Extractor:
        def run(state: SyncState) -> Iterator[list[RawRecord]]:
            base: dict[str, Any] = {"select": select}
            if state.since is not None:
                base["filter"] = {f">={field}": _iso(int(state.since))}
            elif state.cursor is not None:
                since = max(int(float(state.cursor)) - settings.lookback_seconds, 0)
                base["filter"] = {f">={field}": _iso(since)}
            for rows in prefetch(_keyset(http, name, method, base, "ID", "filter", "order", 0, n)):
                out = []
                for r in rows:
                    stamp = _to_unix(r.get(field))
                    state.advance(stamp, at=stamp)
                    out.append(RawRecord.from_json(r, r.get("ID"), stamp))
                yield out

        return run

    def appended(
        method: str, base: dict[str, Any], filter_key: str, upper: bool, created: str
    ) -> Extractor:
        def run(state: SyncState) -> Iterator[list[RawRecord]]:
            last = 0 if state.cursor is None else int(float(state.cursor))
            params = base
            if state.since is not None:  # ids say nothing of time: filter on creation instead
                last = 0
                params = {**base, filter_key: {f">={created}": _iso(int(state.since))}}
            order_key = "ORDER" if upper else "order"
            pages = _keyset(http, name, method, params, "ID", filter_key, order_key, last, n,
                            upper=upper)  # fmt: skip
            for rows in prefetch(pages):
                out = []
                for r in rows:
                    state.advance(r.get("ID"))
                    out.append(RawRecord.from_json(r, r.get("ID"), r.get("ID")))
                yield out

        return run

    def full(method: str, params: dict[str, Any], id_key: str = "ID") -> Extractor:
        def run(state: SyncState) -> Iterator[list[RawRecord]]:
            start = 0
            while True:
                body = _call(http, name, method, {**params, "start": start})
                rows = _rows(body.get("result"))
                if rows:
                    yield [RawRecord.from_json(r, r.get(id_key), None) for r in rows]
                if "next" not in body or not rows:
                    return
                start = int(body["next"])

        return run

    if name == "deals":
        return modified("crm.deal.list", "DATE_MODIFY", ["*", "UF_*"])
    if name == "product_rows":
        deals = modified("crm.deal.list", "DATE_MODIFY", ["ID", "DATE_MODIFY"])

        def product_rows(state: SyncState) -> Iterator[list[RawRecord]]:
            # The rows of every deal changed since the cursor (editing rows re-saves the deal,
            # so DATE_MODIFY moves), read right after their deals were listed.
            for records in deals(state):
                ids = [str(r.id) for r in records if r.id]
                for i in range(0, len(ids), PAGE):
                    rows, gone = _product_rows(http, name, ids[i : i + PAGE])
                    if gone:
                        state.extra["deals_gone"] = state.extra.get("deals_gone", 0) + gone
                    if rows:
                        yield [RawRecord.from_json(r, r.get("id"), None) for r in rows]

        return product_rows
    if name == "contacts":
        return modified("crm.contact.list", "DATE_MODIFY", ["*", "PHONE"])
    if name == "companies":
        return modified("crm.company.list", "DATE_MODIFY", ["*", "PHONE"])
    if name == "requisites":
        return modified("crm.requisite.list", "DATE_MODIFY", ["*"])
    if name == "activities":
        return modified("crm.activity.list", "LAST_UPDATED", ["*", "COMMUNICATIONS"])
    if name == "stage_history":
        return appended(
            "crm.stagehistory.list", {"entityTypeId": 2}, "filter", False, "CREATED_TIME"
        )
    if name == "calls":
        return appended("voximplant.statistic.get", {}, "FILTER", True, "CALL_START_DATE")
    if name == "stages":
        # Every status directory (sources, deal stages of each funnel): staging picks DEAL_STAGE*.
        return full("crm.status.list", {}, "ID")
    if name == "categories":
        return full("crm.category.list", {"entityTypeId": 2}, "id")
    if name == "users":
        return full("user.get", {}, "ID")
    raise KeyError(f"Bitrix24 has no stream {name!r}; streams: {', '.join(STREAMS)}")
