"""UIS (CoMagic) Data API v2.0: the calls report, missed calls included.

Quirks handled here and nowhere else:
- JSON-RPC 2.0 over POST; errors come in the body (`error.code`), whatever the HTTP status;
- `date_from`/`date_till` are account-local times without offset, and a span over 3 months is
  refused (-32602 date_interval_limit_reached): we read windows of at most `window_days`;
- `offset` may not pass 100 000: a window with more rows than that is split in half;
- every reply carries `metadata.limits`; -32029 limit_exceeded means wait `minute_reset`
  seconds, and we slow down before that when `minute_remaining` runs low;
- tags, sales and ongoing calls change after the call, so each sync re-reads a lookback.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import requests
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from funnelhouse.ingest.http import (
    Background,
    HttpSource,
    RateLimiter,
    RetryableResponse,
    SourceError,
    prefetch,
    request_json,
)
from funnelhouse.ingest.raw import RawRecord, RawStore
from funnelhouse.ingest.settings import SourceSettings
from funnelhouse.ingest.sync import Extractor, Stream, SyncState

SOURCE = "uis"
OFFSET_CAP = 100_000
MAX_SPAN = timedelta(days=89)
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
FIELDS = [
    "id", "start_time", "finish_time", "direction", "is_lost", "is_transfer", "source",
    "finish_reason", "wait_duration", "total_wait_duration", "talk_duration",
    "clean_talk_duration", "total_duration", "lost_call_processing_duration",
    "contact_phone_number", "virtual_phone_number", "operator_phone_number",
    "communication_id", "communication_type", "contact_id", "contact_full_name", "employees",
    "first_answered_employee_id", "first_answered_employee_full_name",
    "last_answered_employee_id", "last_answered_employee_full_name", "scenario_id",
    "scenario_name", "campaign_id", "campaign_name", "tags", "sale_date", "sale_cost",
]  # fmt: skip


class UisSettings(SourceSettings):
    model_config = SettingsConfigDict(env_prefix="UIS_", extra="ignore")

    base_url: str = "https://dataapi.uiscom.ru/v2.0"
    access_token: SecretStr = SecretStr("")
    # 100 points a minute on common plans, one per call: the client paces at that and, as the
    # limits come back in every reply, waits for the next minute when two are left (two calls
    # may be in flight).
    rate_per_second: float = 100 / 60
    lookback_days: int = 3  # tags, sale_* and ongoing calls change after the call
    page_size: int = 10_000
    window_days: int = 89  # just under the 3-month cap; a busier window splits in halves to
    # stay under the 100 000 offset cap
    history_days: int = 1095  # how far back a full refresh reads
    timezone: str = "Europe/Moscow"  # report times are account-local without offset


@dataclass(frozen=True)
class UisStream(Stream):
    """A UIS report: JSON-RPC method `path` with `params`, read in windows of `date_from`..
    `date_till` (account-local) and offset pages within each; the cursor is a local time."""

    paging: Literal["report"] = "report"


STREAMS: dict[str, UisStream] = {
    "calls": UisStream(
        SOURCE,
        "calls",
        "Every call, answered or missed (get.calls_report)",
        "start_time (account-local)",
        path="get.calls_report",
        params={"fields": FIELDS},
        cursor_field="start_time",
    ),
}

_ids = itertools.count(1)


def _classify(response: requests.Response) -> None:
    if response.status_code >= 500 or response.status_code == 429:
        raise RetryableResponse(f"HTTP {response.status_code}")


def http_source(settings: UisSettings) -> HttpSource:
    token = settings.access_token.get_secret_value()
    if not token:
        raise ValueError("UIS is not configured: set UIS_ACCESS_TOKEN (a Data API key).")
    return HttpSource(
        source=SOURCE,
        base_url=settings.base_url,
        rate=RateLimiter(settings.rate_per_second, burst=1),
        secrets=(token,),
        classify=_classify,
        url_var="UIS_BASE_URL",
        auth_fix=_FIXES[-32001],
    )


# JSON-RPC errors a retry cannot cure (they come in a 200 body): what to change for each.
_FIXES = {
    -32001: "check UIS_ACCESS_TOKEN (a Data API key: it may be invalid, expired or blocked)",
    -32003: "allow this machine's IP address for the Data API key in the UIS account",
    -32008: "enable the Data API component in the UIS account",
    -32009: "the UIS account is inactive: check its status and balance",
}


def _rpc(
    http: HttpSource,
    token: str,
    method: str,
    params: dict[str, Any],
    spare: int = 1,
    stream: str = "calls",
) -> dict:
    """One JSON-RPC call, waiting out -32029 and pacing by metadata.limits: with `spare`
    points left (the calls still in flight may take them) everyone waits for the next minute."""
    for _ in range(http.max_attempts):
        payload = {"jsonrpc": "2.0", "id": next(_ids), "method": method,
                   "params": {"access_token": token, **params}}  # fmt: skip
        _, body = request_json(http, stream, "POST", "", json=payload)
        if not isinstance(body, dict):
            raise SourceError(SOURCE, stream, f"{method}: reply is not a JSON-RPC object")
        error = body.get("error")
        if error:
            data = error.get("data") or {}
            limits = (data.get("metadata") or {}).get("limits") or {}
            if error.get("code") == -32029:
                wait = min(float(limits.get("minute_reset") or 5), http.backoff_max)
                http.stats.add(retries=1)
                http.rate.penalise(wait)
                time.sleep(wait)
                continue
            what = (f"{method} failed: {error.get('code')} {data.get('mnemonic', '')} "
                    f"{error.get('message', '')}").strip()  # fmt: skip
            if error.get("code") in _FIXES:
                raise http.fatal(stream, what, _FIXES[error["code"]])
            raise SourceError(SOURCE, stream, http.redact(what))
        result = body.get("result") or {}
        limits = (result.get("metadata") or {}).get("limits") or {}
        if limits.get("minute_remaining") is not None and int(limits["minute_remaining"]) <= spare:
            http.rate.penalise(min(float(limits.get("minute_reset") or 1), http.backoff_max))
        return result
    raise SourceError(SOURCE, stream, f"{method}: the minute limit never recovered")


def probe(http: HttpSource, settings: UisSettings) -> str:
    """One cheap authenticated call (the account), for `sources check`."""
    token = settings.access_token.get_secret_value()
    result = _rpc(http, token, "get.account", {}, stream="check")
    rows = result.get("data") or [{}]
    return f"account {rows[0].get('name') or rows[0].get('app_id') or '?'}"


def windows(start: datetime, end: datetime, days: int) -> Iterator[tuple[datetime, datetime]]:
    step = min(timedelta(days=days), MAX_SPAN)
    while start < end:
        stop = min(start + step, end)
        yield start, stop
        start = stop


def extractor(
    stream: UisStream, settings: UisSettings, http: HttpSource, store: RawStore
) -> Extractor:
    """The extraction `stream` declares; the sync runner owns writing and the cursor."""
    token = settings.access_token.get_secret_value()
    tz = ZoneInfo(settings.timezone)
    cursor_field, id_field = stream.cursor_field or "", stream.id_field

    def read_window(frm: datetime, till: datetime) -> Iterator[list[dict]]:
        """Offset pages of one window, the next page already requested while this one is
        awaited (a 10 000-row page is slow to build and to parse); a page that comes back
        short before the end means the window changed: its successor is asked for again."""

        def page(offset: int) -> dict:
            return _rpc(http, token, stream.path, {
                "date_from": frm.strftime(LOCAL_FORMAT), "date_till": till.strftime(LOCAL_FORMAT),
                "offset": offset, "limit": settings.page_size, **stream.params,
            }, spare=2, stream=stream.name)  # fmt: skip

        offset, total = 0, 0
        ahead: tuple[int, Background[dict]] | None = None
        while True:
            current = ahead[1] if ahead and ahead[0] == offset else None
            following = offset + settings.page_size
            ahead = None
            if offset and following < total:
                ahead = (following, Background(lambda o=following: page(o)))
            result = current.result() if current else page(offset)
            rows = result.get("data") or []
            total = int((result.get("metadata") or {}).get("total_items") or 0)
            if offset == 0 and total > OFFSET_CAP + settings.page_size:
                middle = frm + (till - frm) / 2
                if middle.replace(microsecond=0) in (frm, till):
                    raise SourceError(
                        SOURCE, stream.name, f"over {OFFSET_CAP} records in one second"
                    )
                yield from read_window(frm, middle.replace(microsecond=0))
                yield from read_window(middle.replace(microsecond=0), till)
                return
            if rows:
                yield rows
            offset += len(rows)
            if not rows or offset >= total:
                return
            if offset > OFFSET_CAP:
                # The window was split until the API could page through it; one that grew
                # while read past the offsets the API serves (or a server raising
                # `total_items` with every page, which was read forever) fails here.
                raise SourceError(
                    SOURCE, stream.name,
                    f"the window {frm:%Y-%m-%d %H:%M:%S} to {till:%Y-%m-%d %H:%M:%S} kept "
                    f"growing while read (total_items {total:,} at offset {offset:,}, past the "
                    f"API's offset limit of {OFFSET_CAP:,}); rerun: the cursor has not moved",
                )  # fmt: skip

    def run(state: SyncState) -> Iterator[list[RawRecord]]:
        now = datetime.now(tz).replace(tzinfo=None, microsecond=0) + timedelta(days=1)
        if state.since is not None:
            start = datetime.fromtimestamp(state.since, tz).replace(tzinfo=None)
        elif state.cursor is None:
            start = now - timedelta(days=settings.history_days)
        else:
            start = datetime.strptime(state.cursor, LOCAL_FORMAT) - timedelta(
                days=settings.lookback_days
            )
        pages = (rows for frm, till in windows(start, now, settings.window_days)
                 for rows in read_window(frm, till))  # fmt: skip
        # Local times in LOCAL_FORMAT sort as text: the ceiling in the same form bounds them.
        ceiling = datetime.fromtimestamp(state.ceiling, tz).strftime(LOCAL_FORMAT)
        for rows in prefetch(pages):
            newest = max(r[cursor_field] for r in rows)
            if newest > ceiling:
                state.count_future_dated(sum(r[cursor_field] > ceiling for r in rows))
                newest = max((t for r in rows if (t := r[cursor_field]) <= ceiling), default=None)
            state.advance(newest)
            yield [RawRecord.from_json(r, r[id_field], r[cursor_field]) for r in rows]

    return run
