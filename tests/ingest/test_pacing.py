"""The pieces that let a backfill use an API's whole allowance: window pacing, read-ahead,
and Bitrix24's two batches in flight (which must not skip a row when the list shifts)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from funnelhouse.ingest import bitrix24
from funnelhouse.ingest import http as http_layer
from funnelhouse.ingest.http import Background, WindowLimiter, prefetch


class _Clock:
    """Virtual time for the limiters: `sleep` advances it, so a busy machine cannot skew what
    the tests measure (when the limiter lets each request go)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(
        http_layer,
        "time",
        SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep, time=time.time),
    )
    return fake


def test_window_limiter_never_exceeds_its_window(clock):
    limiter = WindowLimiter(5, 0.2)
    sent = []
    for _ in range(16):
        limiter.acquire()
        sent.append(clock.now)
    assert all(sent[i + 5] - sent[i] >= 0.2 for i in range(len(sent) - 5))
    assert sent[-1] - sent[0] == pytest.approx(0.6)  # three windows' worth, not a crawl


def test_window_limiter_makes_up_for_an_idle_caller_and_honours_a_penalty(clock):
    limiter = WindowLimiter(5, 0.2)
    for _ in range(5):
        limiter.acquire()
    clock.sleep(0.25)  # the caller was busy: the whole window is free again
    assert sum(limiter.acquire() for _ in range(5)) == 0
    clock.sleep(0.25)
    limiter.penalise(0.15)
    start = clock.now
    assert limiter.acquire() == pytest.approx(0.15)
    assert clock.now - start == pytest.approx(0.15)


def test_prefetch_keeps_order_and_reads_ahead():
    produced: list[int] = []
    ahead = threading.Event()

    def pages():
        for i in range(5):
            produced.append(i)
            if i == 1:
                ahead.set()
            yield i

    out = []
    for item in prefetch(pages(), depth=2):
        if item == 0:
            # The worker fetches the next page while the caller still holds this one.
            assert ahead.wait(60)
        out.append(item)
    assert out == [0, 1, 2, 3, 4]


def test_prefetch_raises_the_workers_error_after_the_pages_before_it():
    def pages():
        yield 1
        raise RuntimeError("API down")

    got = []
    with pytest.raises(RuntimeError, match="API down"):
        for item in prefetch(pages()):
            got.append(item)
    assert got == [1]


def test_prefetch_reader_that_stops_early_releases_the_worker():
    stopped = threading.Event()

    def pages():
        try:
            yield from range(1000)
        finally:
            stopped.set()

    reader = prefetch(pages())
    assert next(reader) == 0
    reader.close()
    assert stopped.wait(60)


def test_background_returns_or_raises():
    assert Background(lambda: 42).result() == 42

    def fail() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        Background(fail).result()


class _Portal:
    """A list endpoint over ids that can lose a row between two batches."""

    def __init__(self, n: int, vanish: int | None = None):
        self.ids = list(range(1, n + 1))
        self.vanish = vanish
        self.calls = 0
        self.lock = threading.Lock()

    def batch_window(
        self, http: Any, stream: str, method: str, query: dict, commands: int, skip: int = 0
    ) -> tuple[list[dict], bool]:
        with self.lock:
            self.calls += 1
            if skip and self.vanish in self.ids:  # deleted while the first batch was read
                self.ids.remove(self.vanish)
            last = query["filter"][">ID"]
            window = [i for i in self.ids if i > last]
        rows, exhausted = [], False
        for p in range(skip, skip + commands):
            page = window[p * bitrix24.PAGE : (p + 1) * bitrix24.PAGE]
            rows += [{"ID": str(i)} for i in page]
            if len(page) < bitrix24.PAGE:
                exhausted = True
                break
        return rows, exhausted


@pytest.mark.parametrize("vanish", [None, 2_600])
def test_bitrix24_two_batches_in_flight_skip_nothing(monkeypatch, vanish):
    portal = _Portal(20_000, vanish)
    monkeypatch.setattr(bitrix24, "_batch_window", portal.batch_window)
    http: Any = None
    pages = bitrix24._keyset(http, "deals", "crm.deal.list", {}, 0, 50)
    got = [int(r["ID"]) for rows in pages for r in rows]
    assert got == sorted(set(got))
    assert set(portal.ids) <= set(got)  # every row still there was read
    assert portal.calls <= 20_000 // 2_450 + 3  # the pairs really read ahead
