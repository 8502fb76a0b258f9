"""One stream's sync: extract pages, write them to raw, then (and only then) move the cursor.

Sources declare their streams and one extractor each; this module owns the commit protocol, so
every stream gets the same guarantees: a crash or a failure leaves earlier data and the cursor as
they were, and a rerun re-delivers what was not committed (rows are keyed by id, so nothing
doubles).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from funnelhouse.ingest.http import CallStats
from funnelhouse.ingest.raw import RawRecord, RawStore, new_batch_id

log = logging.getLogger(__name__)

FLUSH_ROWS = 20_000
# A record time this far past the sync's start is a defect, not clock skew. Kept well under
# every stream's lookback, so the next sync still starts before the present.
FUTURE_SLACK_SECONDS = 300


@dataclass(frozen=True)
class Stream:
    """A source stream, declared once in its source module: what to request and how to page
    it, where its rows land and what its cursor means. A source module subclasses it with the
    options only its API has; the module's one extractor reads everything from here."""

    source: str
    name: str
    description: str
    cursor: str  # what the cursor holds, for humans: "updated_at (unix s)", "DataVersion", ...
    paging: str = ""  # how the source module reads it: "keyset", "pages", "modified", ...
    path: str = ""  # the URL path or the API method
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)  # sent with every call
    cursor_field: str | None = None  # the record field the cursor follows (None: no cursor)
    id_field: str = "id"  # the record field that identifies it (the raw table's `id`)

    @property
    def table(self) -> str:
        return f"{self.source}__{self.name}"

    @property
    def key(self) -> str:
        return f"{self.source}/{self.name}"


@dataclass
class SyncState:
    """What an extractor reports while it runs; `new_cursor` is committed at the end."""

    cursor: str | None
    full_refresh: bool
    new_cursor: str | None = None
    # A backfill from this time (unix s): extractors read what changed since then whatever
    # the cursor says (a source with no "changed since" reads as usual).
    since: float | None = None
    pages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Time cursors never pass this (unix s): a record dated a year ahead would otherwise move
    # the cursor there, and every later sync would skip whatever happens until then.
    ceiling: float = field(default_factory=lambda: time.time() + FUTURE_SLACK_SECONDS)

    def advance(self, candidate: str | int | None, at: float | None = None) -> None:
        """Keep the greatest cursor seen (numeric or ISO strings compare correctly). `at` is
        the candidate as unix seconds when it is a time: past `ceiling` it is counted as
        `future_dated` (the gate names such records) and the cursor stays where it was."""
        if candidate is None or candidate == "":
            return
        if at is not None and at > self.ceiling:
            self.count_future_dated()
            return
        value = str(candidate)
        if self.new_cursor is None or _cursor_key(value) > _cursor_key(self.new_cursor):
            self.new_cursor = value

    def count_future_dated(self, records: int = 1) -> None:
        self.extra["future_dated"] = self.extra.get("future_dated", 0) + records


def parse_since(day: str) -> float:
    """`YYYY-MM-DD` as unix seconds at 00:00 UTC of that day (a backfill's start)."""
    try:
        return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"--since {day!r}: expected a date as YYYY-MM-DD") from None


def _cursor_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


class Extractor(Protocol):
    def __call__(self, state: SyncState) -> Iterator[list[RawRecord]]: ...


@dataclass
class SyncResult:
    stream: Stream
    batch_id: str
    rows: int
    pages: int
    cursor_before: str | None
    cursor_after: str | None
    full_refresh: bool
    seconds: float
    http: dict[str, Any]
    extra: dict[str, Any]

    def as_metadata(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "pages": self.pages,
            "cursor_before": self.cursor_before or "(none)",
            "cursor_after": self.cursor_after or "(none)",
            "full_refresh": self.full_refresh,
            "batch_id": self.batch_id,
            "seconds": round(self.seconds, 2),
            **{f"http_{k}": v for k, v in self.http.items()},
            **self.extra,
        }


def _collect_conflicts(page: list[RawRecord], conflicts: dict[str, list[str]]) -> None:
    """A page is one snapshot: one id twice with different content is a defect of the source
    (the same record repeated across pages, or a newer version on a later page, is not)."""
    seen: dict[str, str] = {}
    for record in page:
        first = seen.setdefault(record.id, record.payload)
        if first != record.payload:
            versions = conflicts.setdefault(record.id, [first])
            if record.payload not in versions:
                versions.append(record.payload)


def run_sync(
    store: RawStore,
    stream: Stream,
    extract: Extractor,
    *,
    full_refresh: bool = False,
    http_stats: CallStats | None = None,
    on_progress: Callable[[Stream, int, int], None] | None = None,
    since: float | None = None,
) -> SyncResult:
    """Extract → write in blocks → commit the cursor. Raises on failure with the cursor intact.

    With `since`, the extractor re-reads from that time and the cursor never moves back: a
    backfill of last month must not make the next hourly sync re-read it again."""
    started = time.monotonic()
    batch_id = new_batch_id()
    cursor_before = store.get_cursor(stream.source, stream.name)
    state = SyncState(
        cursor=None if full_refresh else cursor_before, full_refresh=full_refresh, since=since
    )
    if since is not None:
        state.extra["since"] = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
    store.ensure(stream.table)
    buffer: list[RawRecord] = []
    written = 0
    conflicts: dict[str, list[str]] = {}
    for page in extract(state):
        state.pages += 1
        _collect_conflicts(page, conflicts)
        buffer.extend(page)
        if len(buffer) >= FLUSH_ROWS:
            written += store.write(stream.source, stream.name, stream.table, buffer, batch_id)
            buffer = []
        if on_progress:
            on_progress(stream, state.pages, written + len(buffer))
    written += store.write(stream.source, stream.name, stream.table, buffer, batch_id)
    store.write_conflicts(stream.source, stream.name, batch_id, conflicts)
    if state.extra.get("future_dated"):
        log.warning("%s: %d records dated after the sync began; the cursor "
                    "stays below them", stream.key, state.extra["future_dated"])  # fmt: skip
    if conflicts:
        state.extra["id_conflicts"] = len(conflicts)
        log.warning("%s: %d ids carried two different records in one page", stream.key,
                    len(conflicts))  # fmt: skip
    cursor_after = state.new_cursor or cursor_before
    if since is not None and cursor_before and cursor_after:
        cursor_after = max(cursor_before, cursor_after, key=_cursor_key)
    # Recorded even without a cursor: the gate reads which batch was the stream's last.
    store.set_cursor(stream.source, stream.name, cursor_after or "", batch_id, written)
    result = SyncResult(
        stream=stream,
        batch_id=batch_id,
        rows=written,
        pages=state.pages,
        cursor_before=cursor_before,
        cursor_after=cursor_after,
        full_refresh=full_refresh,
        seconds=time.monotonic() - started,
        http=http_stats.as_metadata() if http_stats else {},
        extra=state.extra,
    )
    log.info(
        "%s: %d rows in %d pages, cursor %s -> %s",
        stream.key, written, state.pages, cursor_before, cursor_after,
    )  # fmt: skip
    return result
