"""Switchable faults: transport trouble, paging trouble, schema drift and data defects.

Every fault is deterministic: it counts requests ("the next N", "every k-th") or picks records
by their position, so a test that switches one on sees the same thing every run. Faults are
set at start (`serve --faults 429_storm:count=5,slow:delay=0.2`) or at runtime with
`POST /__admin/faults` (JSON `{"429_storm": {"count": 5}}`; `{}` clears them).

Transport (data requests only; /__admin is never affected):
  429_storm        count=10   the next `count` requests get the API's throttle answer
                              (amoCRM 429 non-JSON, Bitrix24 429 OPERATION_TIME_LIMIT,
                              UIS -32029 limit_exceeded, 1C 429 text)
  503_storm        count=10   the next `count` requests get 503 (Bitrix24 QUERY_LIMIT_EXCEEDED,
                              the others an HTML gateway page)
  server_error     every=5    every k-th request answers 500 with the API's own error body
                              (alias: 5xx)
  slow             delay=0.5  every k-th request (every=1) waits `delay` seconds first
  timeout          count=1, delay=30   the next `count` requests hang `delay` seconds
  truncated_json   every=3    every k-th data response is cut in half (valid HTTP, bad JSON)
  malformed_json   every=3    every k-th data response has a NUL byte spliced into its JSON
Paging:
  duplicate_pages  overlap=2  every page after the first starts with the last `overlap`
                              records of the previous one (offset and page-number paging)
  update_while_paging count=3 each request for a page after the first re-saves `count`
                              records the client has already read (updated_at / DATE_MODIFY /
                              DataVersion move to the emulator's clock)
  deletions        every=20   every k-th record is deleted as of the clock (amoCRM leads move
                              to with=only_deleted, Bitrix24 deals vanish, 1C objects vanish)
Schema drift:
  new_field        name=x_new_field   every record gains a field
  retyped_field               a numeric field changes type (amoCRM price and Bitrix24
                              OPPORTUNITY swap string/number, UIS talk_duration becomes a
                              string, 1C СуммаДокумента becomes a string)
Data defects for the quality gate (every k-th record by position in the stream, every=50):
  null_ids, negative_durations, future_dates, unknown_stage_ids, duplicate_ids
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

DEFAULTS: dict[str, dict[str, float]] = {
    "429_storm": {"count": 10},
    "503_storm": {"count": 10},
    "server_error": {"every": 5},
    "slow": {"delay": 0.5, "every": 1},
    "timeout": {"count": 1, "delay": 30},
    "truncated_json": {"every": 3},
    "malformed_json": {"every": 3},
    "duplicate_pages": {"overlap": 2},
    "update_while_paging": {"count": 3},
    "deletions": {"every": 20},
    "new_field": {},
    "retyped_field": {},
    "null_ids": {"every": 50},
    "negative_durations": {"every": 50},
    "future_dates": {"every": 50},
    "unknown_stage_ids": {"every": 50},
    "duplicate_ids": {"every": 50},
}
ALIASES = {"5xx": "server_error", "429": "429_storm", "503": "503_storm"}
DEFECTS = ("null_ids", "negative_durations", "future_dates", "unknown_stage_ids", "duplicate_ids")


class FaultError(ValueError):
    pass


def normalise(faults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for raw_name, params in faults.items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in DEFAULTS:
            raise FaultError(f"unknown fault {raw_name!r}; known: {', '.join(DEFAULTS)}")
        merged: dict[str, Any] = dict(DEFAULTS[name])
        merged.update(params or {})
        out[name] = merged
    return out


def parse(spec: str) -> dict[str, dict[str, Any]]:
    """`429_storm:count=5,slow:delay=0.2` (a `source.` prefix is kept for the caller)."""
    out: dict[str, dict[str, Any]] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, *pairs = item.split(":")
        params: dict[str, Any] = {}
        for pair in pairs:
            key, _, value = pair.partition("=")
            try:
                params[key] = float(value) if "." in value else int(value)
            except ValueError:
                params[key] = value
        out[name] = params
    return out


@dataclass
class FaultSet:
    """The active faults of one emulator and the request counters that drive them."""

    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, faults: dict[str, Any]) -> None:
        normalised = normalise(faults)
        with self._lock:
            self.active = normalised
            self._counts = {}

    def on(self, name: str) -> dict[str, Any] | None:
        return self.active.get(name)

    def take(self, name: str) -> dict[str, Any] | None:
        """For "the next N requests" faults: the params while N is not used up, else None."""
        with self._lock:
            params = self.active.get(name)
            if params is None:
                return None
            used = self._counts.get(name, 0)
            if used >= int(params.get("count", 1)):
                return None
            self._counts[name] = used + 1
            return params

    def every(self, name: str) -> dict[str, Any] | None:
        """For "every k-th request" faults: the params on the k-th, 2k-th, ... call."""
        with self._lock:
            params = self.active.get(name)
            if params is None:
                return None
            n = self._counts.get(name, 0) + 1
            self._counts[name] = n
            return params if n % max(1, int(params.get("every", 1))) == 0 else None

    def describe(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.active.items()}
