"""The simulated company and loopback emulators of its source APIs (see README.md here).

Public API:
- `SimConfig(seed, scale)` and `generate(cfg) -> Company`: the deterministic company model;
- `start_emulators(company_or_cfg, rate_multiplier=..., faults=..., now=...)`: amoCRM,
  Bitrix24, UIS and 1C on loopback, as a context manager with URLs, credentials, `env()`,
  `set_clock`/`advance`, `set_faults`, `stats`;
- `truth.truth(company)` / `truth.write_truth(...)`: ground truth DataFrames;
- `export.export(company, out, formats)`: every stream as the APIs return it, to files.
"""

from funnelhouse.simulator.company import Company, generate
from funnelhouse.simulator.config import SimConfig

__all__ = ["Company", "SimConfig", "generate", "start_emulators"]


def start_emulators(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Lazy wrapper of `emulators.server.start_emulators` (keeps `import` light)."""
    from funnelhouse.simulator.emulators.server import start_emulators as start

    return start(*args, **kwargs)
