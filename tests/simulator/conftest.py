"""Fixtures: one small simulated company and its four emulators, shared by the session.

Rates are multiplied so tests do not crawl; tests of the documented limits start their own
emulators at the documented rates (`strict_sources`). Every server is stopped on teardown and
each test starts from a clean slate (no faults, the initial clock).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from funnelhouse.simulator.company import Company, generate
from funnelhouse.simulator.config import SimConfig
from funnelhouse.simulator.emulators.server import SourceEmulators, start_emulators

SEED, SCALE = 7, 0.03


@pytest.fixture(scope="session")
def company() -> Company:
    return generate(SimConfig(seed=SEED, scale=SCALE))


@pytest.fixture(scope="session")
def sources(company: Company) -> Iterator[SourceEmulators]:
    with start_emulators(company, rate_multiplier=1000) as src:
        yield src


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sources" in request.fixturenames:
        src: SourceEmulators = request.getfixturevalue("sources")
        src.reset()
        src.set_clock(src.cfg.initial_clock)


@pytest.fixture
def strict_sources(company: Company) -> Iterator[SourceEmulators]:
    """Emulators at the documented rate limits."""
    with start_emulators(company, rate_multiplier=1) as src:
        yield src


@pytest.fixture
def amo(sources: SourceEmulators) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sources.credentials.amocrm_token}"
    return s


@pytest.fixture
def onec(sources: SourceEmulators) -> requests.Session:
    s = requests.Session()
    s.auth = (sources.credentials.onec_user, sources.credentials.onec_password)
    return s


def b24(
    src: SourceEmulators, method: str, params: dict | None = None, **kw: object
) -> requests.Response:
    return requests.post(
        f"{src.bitrix24_webhook_url}{method}.json", json=params or {}, timeout=10, **kw
    )


def uis(
    src: SourceEmulators, method: str, params: dict, token: str | None = None
) -> requests.Response:
    body = {
        "jsonrpc": "2.0",
        "id": "t-1",
        "method": method,
        "params": {"access_token": token or src.credentials.uis_access_token, **params},
    }
    return requests.post(src.uis_url, json=body, timeout=10)
