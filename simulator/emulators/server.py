"""Run the four emulators on loopback: in-process for tests, in the foreground for `serve`.

`start_emulators()` is the one entry point: it builds the shared World (company + clock),
starts a waitress server per API on a free (or given) port, and returns a `SourceEmulators`
that knows every base URL and credential, moves the clock, switches faults and stops cleanly.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from funnelhouse.simulator.company import Company, generate
from funnelhouse.simulator.config import SimConfig
from funnelhouse.simulator.emulators.amocrm.router import AmoCrm
from funnelhouse.simulator.emulators.base import Emulator, Stats
from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24
from funnelhouse.simulator.emulators.faults import parse
from funnelhouse.simulator.emulators.onec.router import OneC
from funnelhouse.simulator.emulators.uis import Uis
from funnelhouse.simulator.emulators.world import World

NAMES = ("amocrm", "bitrix24", "uis", "onec")
ONEC_INFOBASE = "accounting"


def _secret(seed: int, what: str, n: int = 32) -> str:
    return hashlib.sha256(f"funnelhouse:{seed}:{what}".encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Credentials:
    """Everything a connector needs to reach the emulators (deterministic per seed)."""

    amocrm_token: str
    bitrix24_user_id: int
    bitrix24_code: str
    uis_access_token: str
    onec_user: str
    onec_password: str

    @classmethod
    def for_seed(cls, seed: int) -> Credentials:
        return cls(
            amocrm_token=_secret(seed, "amocrm", 64),
            bitrix24_user_id=1,
            bitrix24_code=_secret(seed, "bitrix24", 16),
            uis_access_token=_secret(seed, "uis", 40),
            onec_user="odata.user",
            onec_password=_secret(seed, "onec", 12),
        )


def split_faults(spec: str | dict | None) -> dict[str, dict[str, Any]]:
    """Faults per emulator from `name[:k=v]` items; `amocrm.name` targets one emulator."""
    raw = parse(spec) if isinstance(spec, str) else dict(spec or {})
    out: dict[str, dict[str, Any]] = {n: {} for n in NAMES}
    for key, params in raw.items():
        target, _, name = key.rpartition(".")
        for n in [target] if target else NAMES:
            if n not in out:
                raise ValueError(f"unknown emulator {n!r} in fault {key!r}; one of {NAMES}")
            out[n][name] = params
    return out


class _Server:
    def __init__(self, app: Emulator, host: str, port: int, threads: int):
        self.app = app
        self.server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident=None,
            clear_untrusted_proxy_headers=True,
        )
        self.port = int(self.server.effective_port)  # type: ignore[union-attr]
        self.thread = threading.Thread(target=self._run, name=f"emulator-{app.name}", daemon=True)

    def _run(self) -> None:
        # The socket map is closed under the loop on shutdown.
        with contextlib.suppress(OSError, ValueError):
            self.server.run()

    def stop(self) -> None:
        self.app.stopping.set()  # wake handlers sleeping in slow/timeout faults
        self.server.close()
        self.thread.join(timeout=0.2)
        if self.thread.is_alive():
            # A client's keep-alive connection keeps the loop serving: close what is left.
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                wasyncore.close_all(self.server._map)
            self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown(timeout=1)


class SourceEmulators:
    """The four emulators over one World; use as a context manager or call `close()`."""

    def __init__(
        self,
        company: Company | SimConfig | None = None,
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        faults: str | dict | None = None,
        rate_multiplier: float = 1.0,
        now: int | str | None = None,
        threads: int = 4,
    ):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("emulators bind to loopback only")
        self.company = company if isinstance(company, Company) else generate(company or SimConfig())
        self.cfg = self.company.cfg
        self.world = World(self.company)
        if now is not None:
            self.world.set_clock(now)
        self.credentials = Credentials.for_seed(self.cfg.seed)
        self.rate_multiplier = rate_multiplier  # of every documented limit
        cr = self.credentials
        per = split_faults(faults)
        self.apps: dict[str, Emulator] = {
            "amocrm": AmoCrm(
                self.world,
                token=cr.amocrm_token,
                rate_multiplier=rate_multiplier,
                faults=per["amocrm"],
            ),
            "bitrix24": Bitrix24(
                self.world,
                user_id=cr.bitrix24_user_id,
                code=cr.bitrix24_code,
                rate_multiplier=rate_multiplier,
                faults=per["bitrix24"],
            ),
            "uis": Uis(
                self.world,
                token=cr.uis_access_token,
                rate_multiplier=rate_multiplier,
                faults=per["uis"],
            ),
            "onec": OneC(
                self.world,
                user=cr.onec_user,
                password=cr.onec_password,
                infobase=ONEC_INFOBASE,
                rate_multiplier=rate_multiplier,
                faults=per["onec"],
            ),
        }
        self._servers: dict[str, _Server] = {}
        try:
            for name, app in self.apps.items():
                srv = _Server(app, host, (ports or {}).get(name, 0), threads)
                self._servers[name] = srv
                app.base_url = f"http://{host}:{srv.port}"
            for srv in self._servers.values():
                srv.thread.start()
        except BaseException:
            self.close()
            raise

    # -- addresses -----------------------------------------------------------------------
    def root(self, name: str) -> str:
        return self.apps[name].base_url

    @property
    def amocrm_url(self) -> str:
        return self.root("amocrm")

    @property
    def bitrix24_webhook_url(self) -> str:
        cr = self.credentials
        return f"{self.root('bitrix24')}/rest/{cr.bitrix24_user_id}/{cr.bitrix24_code}/"

    @property
    def uis_url(self) -> str:
        return f"{self.root('uis')}/v2.0"

    @property
    def onec_url(self) -> str:
        return f"{self.root('onec')}/{ONEC_INFOBASE}/odata/standard.odata"

    def env(self) -> dict[str, str]:
        """Environment variables for funnelhouse.ingest.settings pointing at these emulators."""
        cr = self.credentials
        e = self.cfg.onec_entities
        return {
            "AMOCRM_BASE_URL": self.amocrm_url,
            "AMOCRM_TOKEN": cr.amocrm_token,
            "BITRIX24_WEBHOOK_URL": self.bitrix24_webhook_url,
            "UIS_BASE_URL": self.uis_url,
            "UIS_ACCESS_TOKEN": cr.uis_access_token,
            "UIS_TIMEZONE": self.cfg.uis_tz,
            "ONEC_BASE_URL": self.onec_url,
            "ONEC_USER": cr.onec_user,
            "ONEC_PASSWORD": cr.onec_password,
            "ONEC_TIMEZONE": self.cfg.onec_tz,
            "ONEC_COUNTERPARTIES_ENTITY": e.counterparties,
            "ONEC_CONTRACTS_ENTITY": e.contracts,
            "ONEC_SALES_ENTITY": e.sales,
            "ONEC_PAYMENTS_ENTITY": e.payments,
        }

    def describe(self) -> dict[str, Any]:
        cr = self.credentials
        return {
            "amocrm": {
                "base_url": self.amocrm_url,
                "token": cr.amocrm_token,
                **self.apps["amocrm"].describe(),
            },
            "bitrix24": {
                "webhook_url": self.bitrix24_webhook_url,
                **self.apps["bitrix24"].describe(),
            },
            "uis": {
                "base_url": self.uis_url,
                "access_token": cr.uis_access_token,
                **self.apps["uis"].describe(),
            },
            "onec": {
                "base_url": self.onec_url,
                "user": cr.onec_user,
                "password": cr.onec_password,
                **self.apps["onec"].describe(),
            },
            "clock": self.world.clock_info(),
        }

    # -- control -------------------------------------------------------------------------
    def set_clock(self, now: int | str) -> int:
        return self.world.set_clock(now)

    def advance(self, seconds: int = 0, *, days: float = 0) -> int:
        return self.world.advance(int(seconds + days * 86_400))

    @property
    def clock(self) -> int:
        return self.world.clock

    def set_faults(self, faults: str | dict | None, only: str | None = None) -> None:
        per = split_faults(faults)
        for name, app in self.apps.items():
            if only is None or only == name:
                app.faults.set(per[name])

    def stats(self) -> dict[str, Any]:
        return {name: app.stats.as_dict() for name, app in self.apps.items()}

    def reset(self) -> None:
        for app in self.apps.values():
            app.faults.set({})
            app.reset_limits()
            app.stats = Stats()
        self.world.touched.clear()

    def close(self) -> None:
        for srv in self._servers.values():
            srv.stop()
        self._servers.clear()

    def __enter__(self) -> SourceEmulators:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_emulators(company: Company | SimConfig | None = None, **kwargs: Any) -> SourceEmulators:
    """Start all four on loopback (free ports unless `ports` is given); see SourceEmulators."""
    return SourceEmulators(company, **kwargs)
