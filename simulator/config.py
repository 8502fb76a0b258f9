"""What the simulated company is: seed, size, period and the time zones its systems keep.

Everything the generator draws depends on these values only, so the same config always yields
byte-identical data. Times inside the simulator are unix seconds (UTC); each emulator formats
them the way its real system does (amoCRM unix ints, UIS and 1C local time without offset,
Bitrix24 ISO 8601 with the portal's offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

BUSINESS_TZ = "Europe/Moscow"


def unix(text: str, tz: str = BUSINESS_TZ) -> int:
    """`2026-11-01` or `2026-11-01T12:00[:00][+03:00]` to unix seconds (naive = `tz`)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return int(value.timestamp())


@dataclass(frozen=True)
class OneCEntities:
    """Entity set names differ between 1C configurations (БП 3.0 shown; УТ 11 / ERP call the
    bank receipt Document_ПоступлениеБезналичныхДенежныхСредств)."""

    counterparties: str = "Catalog_Контрагенты"
    contracts: str = "Catalog_ДоговорыКонтрагентов"
    sales: str = "Document_РеализацияТоваровУслуг"
    payments: str = "Document_ПоступлениеНаРасчетныйСчет"


@dataclass(frozen=True)
class SimConfig:
    """One simulated company. `scale=1` is about 10 000 leads and 100 000 calls in two years;
    the size grows linearly (scale 100 is about 1 M leads and 10 M calls)."""

    seed: int = 42
    scale: float = 1.0
    # The simulated history: two years ending at `end` (business-local midnight).
    start: str = "2024-11-01"
    end: str = "2026-11-01"
    business_tz: str = BUSINESS_TZ
    bitrix_tz: str = "Europe/Kaliningrad"  # portal server time; deliberately not Moscow
    uis_tz: str = BUSINESS_TZ  # what get.account reports
    onec_tz: str = BUSINESS_TZ  # infobase local time
    # Where the emulators' clock starts: some days before the end, so tests can advance it.
    initial_days_before_end: int = 14
    onec_entities: OneCEntities = field(default_factory=OneCEntities)

    @property
    def start_ts(self) -> int:
        return unix(self.start, self.business_tz)

    @property
    def end_ts(self) -> int:
        return unix(self.end, self.business_tz)

    @property
    def initial_clock(self) -> int:
        return self.end_ts - self.initial_days_before_end * 86_400

    def with_(self, **changes: object) -> SimConfig:
        return replace(self, **changes)  # type: ignore[arg-type]
