"""Rate limits as the real services document them, on wall-clock time.

- amoCRM: at most 7 requests in any one second (a sliding window);
- Bitrix24: leaky bucket per portal, threshold 50, drained 2/s (enterprise 250 / 5);
- UIS: points, 1 per successful call, per minute and per day, reported in metadata.limits.

`multiplier` scales every rate and limit so demos and tests need not crawl; the documented
values are the defaults of `serve`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


class SlidingWindow:
    """At most `n` requests in any one second."""

    def __init__(self, n: float):
        self.n = n
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= self.n:
                return False
            self._times.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._times.clear()


class LeakyBucket:
    """Each request adds one; the bucket drains `drain` a second; over `capacity` is refused."""

    def __init__(self, capacity: float, drain: float):
        self.capacity, self.drain = capacity, drain
        self._level = 0.0
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._at) * self.drain)
            self._at = now
            if self._level + 1 > self.capacity:
                return False
            self._level += 1
            return True

    def reset(self) -> None:
        with self._lock:
            self._level, self._at = 0.0, time.monotonic()


@dataclass
class PointsState:
    minute_limit: int
    minute_remaining: int
    minute_reset: int
    day_limit: int
    day_remaining: int
    day_reset: int

    def as_dict(self) -> dict[str, int]:
        return {
            "day_limit": self.day_limit,
            "day_remaining": self.day_remaining,
            "day_reset": self.day_reset,
            "minute_limit": self.minute_limit,
            "minute_remaining": self.minute_remaining,
            "minute_reset": self.minute_reset,
        }


class Points:
    """UIS points: fixed windows of a minute and a day starting at the first charged call."""

    def __init__(self, minute_limit: int, day_limit: int):
        self.minute_limit, self.day_limit = minute_limit, day_limit
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        now = time.monotonic()
        self._minute_start, self._day_start = now, now
        self._minute_used = self._day_used = 0

    def _roll(self, now: float) -> None:
        if now - self._minute_start >= 60:
            self._minute_start, self._minute_used = now, 0
        if now - self._day_start >= 86_400:
            self._day_start, self._day_used = now, 0

    def state(self) -> PointsState:
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            return PointsState(
                self.minute_limit,
                max(0, self.minute_limit - self._minute_used),
                max(1, round(60 - (now - self._minute_start))),
                self.day_limit,
                max(0, self.day_limit - self._day_used),
                max(1, round(86_400 - (now - self._day_start))),
            )

    def exhausted(self) -> str | None:
        """'minute' or 'day' when no point is left, else None."""
        s = self.state()
        if s.day_remaining <= 0:
            return "day"
        if s.minute_remaining <= 0:
            return "minute"
        return None

    def charge(self) -> None:
        with self._lock:
            self._roll(time.monotonic())
            self._minute_used += 1
            self._day_used += 1
