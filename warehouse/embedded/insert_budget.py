"""A budget of INSERT data the engine may hold at once, over all concurrent requests.

While it parses an INSERT the engine holds a multiple of the data (a single 255 MiB row took the
process from 0.4 to 1.5 GiB), so ten concurrent large INSERTs under the per-request cap would
still need many GiB. Each INSERT reserves its decompressed size before the engine sees a byte;
one that does not fit waits, in arrival order, for earlier ones to finish. A waiting request
holds nothing, so waiting cannot deadlock; the per-request cap must fit in the budget.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from funnelhouse.warehouse.embedded.request_limits import MAX_DATA_BYTES_ENV

BUDGET_ENV = "FUNNELHOUSE_INSERT_BUDGET_BYTES"
DEFAULT_BUDGET = 256 << 20


def insert_budget_bytes(max_data_bytes: int) -> int:
    """The budget from FUNNELHOUSE_INSERT_BUDGET_BYTES; it must hold one request's cap."""
    budget = int(os.environ.get(BUDGET_ENV) or DEFAULT_BUDGET)
    if budget < max_data_bytes:
        raise ValueError(
            f"{BUDGET_ENV}={budget} is below {MAX_DATA_BYTES_ENV}={max_data_bytes}: an INSERT of "
            f"the allowed size could never run; raise {BUDGET_ENV} or lower {MAX_DATA_BYTES_ENV}"
        )
    return budget


class InsertBudget:
    def __init__(self, total: int):
        self.total = total
        self._used = 0
        self._queue: deque[object] = deque()
        self._cond = threading.Condition()

    @property
    def used(self) -> int:
        with self._cond:
            return self._used

    @contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """Hold `size` bytes of the budget while the engine runs one INSERT."""
        size = min(size, self.total)
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self._used + size > self.total:
                    self._cond.wait()
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()
            self._used += size
        try:
            yield
        finally:
            with self._cond:
                self._used -= size
                self._cond.notify_all()
