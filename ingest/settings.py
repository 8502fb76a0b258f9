"""What every source's settings share; each source's own settings class lives in its module
(`ingest/amocrm.py` `AmoCrmSettings`, ...), next to the streams it configures.

Secrets are SecretStr: they print as '**********' in logs, reprs and the Dagster UI.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings

from funnelhouse.ingest.secrets import redact_url


class SourceSettings(BaseSettings):
    """Reprs mask credentials a URL field may carry (`http://user:password@host/`)."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if isinstance(value, str) and "://" in value else value


def scaled_rates(multiplier: float) -> dict[str, str]:
    """`<SOURCE>_RATE_PER_SECOND` for clients of emulators whose limits are multiplied
    (`make demo`, `make up`): each connector's own default times the same factor."""
    from funnelhouse.ingest.sources import SOURCES  # the source modules import this one

    out = {}
    for source in SOURCES.values():
        cls = source.settings_cls
        rate = cls.model_fields["rate_per_second"].default * multiplier
        out[f"{cls.model_config['env_prefix']}RATE_PER_SECOND"] = f"{rate:g}"
    return out
