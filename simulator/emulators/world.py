"""The emulators' shared clock and the company's state as of that clock.

The simulated company holds a full history; an emulator serves only what exists at its clock
(records created at or before it, each in its latest version at or before it). Moving the
clock forward between two syncs therefore produces new and updated records, exactly what an
incremental connector must pick up. States are cached per clock value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from funnelhouse.simulator.company import Company
from funnelhouse.simulator.company.deals import STAGE_KIND, STAGE_POS
from funnelhouse.simulator.config import unix


def last_at_or_before(keys: np.ndarray, times: np.ndarray, n_keys: int, clock: int) -> np.ndarray:
    """Row index of each key's last entry with time <= clock (-1 if none).

    `keys`/`times` must be sorted by key, then time."""
    first = np.searchsorted(keys, np.arange(n_keys), side="left")
    count = np.bincount(keys[times <= clock], minlength=n_keys)
    return np.where(count > 0, first + count - 1, -1)


class World:
    """One company, one clock, and per-clock caches shared by the four emulators."""

    def __init__(self, company: Company, clock: int | None = None):
        self.company = company
        self.cfg = company.cfg
        self.clock = int(clock if clock is not None else self.cfg.initial_clock)
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple[str, int], Any] = OrderedDict()
        # Faults that re-save records while a client pages: (stream, row) -> new change time.
        self.touched: dict[str, dict[int, int]] = {}

    # -- clock ---------------------------------------------------------------------------
    def set_clock(self, value: int | str) -> int:
        ts = value if isinstance(value, int) else unix(str(value), self.cfg.business_tz)
        with self._lock:
            self.clock = int(ts)
            self.touched.clear()
        return self.clock

    def advance(self, seconds: int) -> int:
        return self.set_clock(self.clock + int(seconds))

    def clock_info(self) -> dict[str, Any]:
        def iso(ts: int) -> str:
            return datetime.fromtimestamp(ts, UTC).isoformat()

        return {
            "now": iso(self.clock),
            "unix": self.clock,
            "history_start": iso(self.cfg.start_ts),
            "history_end": iso(self.cfg.end_ts),
            "initial": iso(self.cfg.initial_clock),
        }

    # -- caching -------------------------------------------------------------------------
    def cached(self, name: str, build: Callable[[int], Any]) -> Any:
        key = (name, self.clock)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = build(key[1])
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > 48:
                self._cache.popitem(last=False)
        return value

    def touch(self, stream: str, rows: list[int]) -> None:
        with self._lock:
            bucket = self.touched.setdefault(stream, {})
            for r in rows:
                bucket[int(r)] = self.clock

    # -- states --------------------------------------------------------------------------
    def leads(self) -> pd.DataFrame:
        """Every lead (both CRMs) as of the clock: visible, stage, times, shown price."""
        return self.cached("leads", self._leads)

    def _leads(self, clock: int) -> pd.DataFrame:
        c = self.company
        L = c.leads
        ev = c.events
        last = last_at_or_before(ev["lead"].to_numpy(), ev["at"].to_numpy(), len(L), clock)
        stage = np.where(last >= 0, ev["stage"].to_numpy()[np.maximum(last, 0)], -1)
        moved = np.where(last >= 0, ev["at"].to_numpy()[np.maximum(last, 0)], -1)
        deleted_at = L["deleted_at"].to_numpy()
        deleted = (deleted_at >= 0) & (deleted_at <= clock)
        created = L["created_at"].to_numpy()
        kind = STAGE_KIND[np.maximum(stage, 0)]
        closed = np.isin(kind, ["won", "lost"])
        updated = np.maximum(np.maximum(created, moved), np.where(deleted, deleted_at, 0))
        # The amount is re-estimated once the proposal goes out.
        price = np.where(
            closed | (STAGE_POS[np.maximum(stage, 0)] >= 4), L["price"], L["price_initial"]
        )
        return pd.DataFrame(
            {
                "visible": (created <= clock) & (stage >= 0),
                "stage": stage,
                "moved_at": moved,
                "updated_at": updated,
                "deleted": deleted,
                "closed": closed,
                "price": price,
            }
        )

    def visible_rows(self, name: str, times: np.ndarray) -> np.ndarray:
        """Rows of an append-only table whose time is at or before the clock."""
        return self.cached(name, lambda clock: np.flatnonzero(times <= clock))


def client_managers(company: Company) -> np.ndarray:
    """Each client's manager: the one of its first lead (owner of its contact and company)."""
    first = np.full(len(company.clients), -1)
    client = company.leads["client"].to_numpy()
    first[client[::-1]] = np.arange(len(company.leads))[::-1]
    return company.leads["manager"].to_numpy()[first]


def client_versions(
    company: Company, crm: str, clock: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A CRM's clients created by the clock: rows, creation times and last-change times."""
    cl = company.clients
    rows = np.flatnonzero((cl["crm"].to_numpy() == crm) & (cl["created_at"].to_numpy() <= clock))
    edit = cl["edit_at"].to_numpy()[rows]
    created = cl["created_at"].to_numpy()[rows]
    return rows, created, np.where((edit >= 0) & (edit <= clock), edit, created)


_COLUMNS: dict[tuple[int, str], tuple[pd.DataFrame, np.ndarray]] = {}


def col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column of a company table as a cached numpy array (per-record reads in renderers;
    pandas `.iat` costs ~20 µs a call). Company tables never change after generation; the
    cache holds the frame itself so that an id is never reused for another frame."""
    key = (id(frame), name)
    hit = _COLUMNS.get(key)
    if hit is None or hit[0] is not frame:
        hit = (frame, frame[name].to_numpy())
        _COLUMNS[key] = hit
    return hit[1]
