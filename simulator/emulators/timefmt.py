"""Formatting unix seconds the way each system writes time."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

EMPTY_1C_DATE = "0001-01-01T00:00:00"


@lru_cache(maxsize=8)
def zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def iso_offset(ts: int, tz: str) -> str:
    """Bitrix24: `2024-09-02T18:37:18+02:00`."""
    return datetime.fromtimestamp(ts, zone(tz)).isoformat(timespec="seconds")


def local(ts: int, tz: str, sep: str = " ") -> str:
    """UIS (`2025-06-01 10:15:03`) and 1C (`sep="T"`): local time without offset."""
    return datetime.fromtimestamp(ts, zone(tz)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")


def parse_local(text: str, tz: str) -> int:
    value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    return int(value.timestamp())
