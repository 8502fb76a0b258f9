"""Ingest against the emulators: a small company, its four APIs, a throwaway raw database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from funnelhouse.ingest.raw import RawStore
from funnelhouse.ingest.sources import SOURCES, SourceSession
from funnelhouse.simulator.company import Company, generate
from funnelhouse.simulator.config import SimConfig
from funnelhouse.simulator.emulators.server import SourceEmulators, start_emulators
from funnelhouse.warehouse.client import get_client
from tests.conftest import use_emulators


@pytest.fixture(scope="session")
def company() -> Company:
    return generate(SimConfig(seed=11, scale=0.02))


@pytest.fixture(scope="session")
def sources(company: Company) -> Iterator[SourceEmulators]:
    with start_emulators(company, rate_multiplier=1000) as src:
        yield src


@pytest.fixture
def emulators(sources: SourceEmulators, monkeypatch) -> Iterator[SourceEmulators]:
    """The shared emulators at their initial clock, no faults, and the env pointing at them."""
    sources.reset()
    sources.set_clock(sources.cfg.initial_clock)
    # The clients pace like the emulators' limits (× 1000): pacing has its own tests, and at
    # the documented rates each sync here would wait seconds for UIS alone.
    use_emulators(monkeypatch, sources, None)
    yield sources
    sources.reset()
    sources.set_clock(sources.cfg.initial_clock)


@pytest.fixture
def store(warehouse) -> Iterator[RawStore]:
    client = get_client(warehouse)
    db = f"raw_{uuid.uuid4().hex[:8]}"
    yield RawStore(client, database=db)
    client.command(f"DROP DATABASE IF EXISTS {db}")
    client.close()


def new_session(store: RawStore) -> SourceSession:
    """Fresh settings from the environment, fast retries (the faults are deterministic)."""
    session = SourceSession(store)
    for source in SOURCES.values():
        http = session.http(source)
        http.backoff_base, http.backoff_max = 0.01, 0.05
    return session
