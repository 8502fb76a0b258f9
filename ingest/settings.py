"""Where each source is and how to authenticate, read from the environment.

Secrets are SecretStr: they print as '**********' in logs, reprs and the Dagster UI.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from funnelhouse.ingest.secrets import redact_url


class _Settings(BaseSettings):
    """Reprs mask credentials a URL field may carry (`http://user:password@host/`)."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if isinstance(value, str) and "://" in value else value


class AmoCrmSettings(_Settings):
    model_config = SettingsConfigDict(env_prefix="AMOCRM_", extra="ignore")

    base_url: str = ""  # https://<subdomain>.amocrm.ru
    token: SecretStr = SecretStr("")  # long-lived token of a private integration
    # Documented: "not more than 7 requests per second", counted over any second: the client
    # sends at most 7 in any (1 s + margin) of its own clock; the margin absorbs the jitter
    # between sending and the server's count (each 429 costs a second of back-off).
    rate_per_second: float = 7.0
    window_margin_seconds: float = 0.03
    lookback_seconds: int = 3600  # `[from]` inclusiveness is unconfirmed; overlap a little
    page_size: int = 250
    events_page_size: int = 100  # the RU docs' cap; the EN docs say 250


class Bitrix24Settings(_Settings):
    model_config = SettingsConfigDict(env_prefix="BITRIX24_", extra="ignore")

    webhook_url: SecretStr = SecretStr("")  # https://<portal>/rest/<user>/<code>/ (code is secret)
    rate_per_second: float = 2.0  # leaky bucket drain on non-enterprise plans
    burst: int = 50  # bucket size on non-enterprise plans
    lookback_seconds: int = 3600
    batch_commands: int = 50  # batch takes at most 50 sub-requests


class UisSettings(_Settings):
    model_config = SettingsConfigDict(env_prefix="UIS_", extra="ignore")

    base_url: str = "https://dataapi.uiscom.ru/v2.0"
    access_token: SecretStr = SecretStr("")
    # 100 points a minute on common plans, one per call: the client paces at that and, as the
    # limits come back in every reply, waits for the next minute when two are left (two calls
    # may be in flight).
    rate_per_second: float = 100 / 60
    lookback_days: int = 3  # tags, sale_* and ongoing calls change after the call
    page_size: int = 10_000
    window_days: int = 89  # just under the 3-month cap; a busier window splits in halves to
    # stay under the 100 000 offset cap
    history_days: int = 1095  # how far back a full refresh reads
    timezone: str = "Europe/Moscow"  # report times are account-local without offset


class OneCSettings(_Settings):
    model_config = SettingsConfigDict(env_prefix="ONEC_", extra="ignore")

    base_url: str = ""  # http(s)://host/<infobase>/odata/standard.odata
    user: str = ""
    password: SecretStr = SecretStr("")
    rate_per_second: float = 10.0
    page_size: int = 1000
    timezone: str = "Europe/Moscow"  # infobase local time without offset
    # Entity sets differ between configurations (БП 3.0 vs УТ 11 / ERP): check $metadata.
    counterparties_entity: str = "Catalog_Контрагенты"
    contracts_entity: str = "Catalog_ДоговорыКонтрагентов"
    sales_entity: str = "Document_РеализацияТоваровУслуг"
    payments_entity: str = "Document_ПоступлениеНаРасчетныйСчет"


def scaled_rates(multiplier: float) -> dict[str, str]:
    """`<SOURCE>_RATE_PER_SECOND` for clients of emulators whose limits are multiplied
    (`make demo`, `make up`): each connector's own default times the same factor."""
    out = {}
    for cls in (AmoCrmSettings, Bitrix24Settings, UisSettings, OneCSettings):
        rate = cls.model_fields["rate_per_second"].default * multiplier
        out[f"{cls.model_config['env_prefix']}RATE_PER_SECOND"] = f"{rate:g}"
    return out
