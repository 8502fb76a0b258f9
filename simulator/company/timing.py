"""Calendar shapes shared by the generators: weekly and yearly seasonality, hours of the day.

All times are unix seconds. The business day is cut in the business time zone, which for
Moscow has a fixed offset; `local_offset` is taken once for the period (zones with DST would
shift the daily pattern by an hour, never the data's correctness).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

DAY = 86_400
HOUR = 3_600
# Monday .. Sunday
WEEKDAY_LEADS = np.array([1.05, 1.1, 1.05, 1.0, 0.9, 0.35, 0.25])
WEEKDAY_CALLS = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.15, 0.08])
HOURS_LEADS = np.array(
    [
        0.6,
        0.4,
        0.3,
        0.3,
        0.3,
        0.4,
        0.8,
        1.5,
        3.5,
        6.5,
        8.5,
        9.0,
        8.0,
        7.5,
        8.5,
        8.0,
        7.0,
        6.0,
        4.5,
        3.5,
        2.8,
        2.2,
        1.6,
        1.0,
    ]
)
# Inbound calls reach into the evening; managers call out in office hours.
HOURS_IN = np.array(
    [
        0.1,
        0.05,
        0.02,
        0.02,
        0.02,
        0.05,
        0.2,
        0.8,
        3.0,
        7.0,
        9.0,
        9.0,
        8.0,
        7.5,
        8.5,
        8.5,
        8.0,
        7.0,
        5.0,
        3.0,
        2.0,
        1.4,
        0.8,
        0.3,
    ]
)
HOURS_OUT = np.array(
    [
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0.1,
        1.0,
        7.0,
        10.0,
        10.0,
        8.0,
        7.0,
        9.0,
        9.5,
        9.0,
        8.0,
        4.0,
        1.2,
        0.4,
        0.1,
        0,
        0,
    ]
)


def local_offset(tz: str, at: int) -> int:
    return int(datetime.fromtimestamp(at, ZoneInfo(tz)).utcoffset().total_seconds())  # type: ignore[union-attr]


def yearly(day_of_year: np.ndarray) -> np.ndarray:
    """Busy autumn and spring, a summer lull and a deep New Year holiday dip."""
    shape = 1.0 + 0.18 * np.cos(2 * np.pi * (day_of_year - 75) / 365.25) ** 2
    shape = np.where((day_of_year >= 182) & (day_of_year < 243), shape * 0.8, shape)
    holidays = (day_of_year < 9) | (day_of_year >= 364)
    return np.where(holidays, shape * 0.25, shape)


def weekday(ts: np.ndarray, offset: int) -> np.ndarray:
    """0 = Monday, of the local date."""
    return ((ts + offset) // DAY + 3) % 7  # 1970-01-01 was a Thursday


def hour(ts: np.ndarray, offset: int) -> np.ndarray:
    return ((ts + offset) % DAY) // HOUR


def day_weights(start: int, days: int, offset: int) -> np.ndarray:
    """Relative lead intake per day: weekly rhythm × yearly season × 25 % yearly growth."""
    day_start = start + np.arange(days) * DAY
    local = day_start + offset
    doy = (
        local.astype("datetime64[s]") - local.astype("datetime64[Y]").astype("datetime64[s]")
    ).astype(np.int64) // DAY
    growth = 1.0 + 0.25 * np.arange(days) / 365.25
    w = WEEKDAY_LEADS[weekday(day_start, offset)] * yearly(doy) * growth
    return w / w.sum()


def time_of_day(rng: np.random.Generator, n: int, hours: np.ndarray) -> np.ndarray:
    """Seconds since local midnight drawn from an hourly profile."""
    p = hours / hours.sum()
    return rng.choice(24, size=n, p=p) * HOUR + rng.integers(0, HOUR, size=n)


def snap_to_hours(
    rng: np.random.Generator, ts: np.ndarray, hours: np.ndarray, offset: int, weekend_keep: float
) -> np.ndarray:
    """Move instants to a plausible local time of their day; most weekend ones to Monday."""
    local_day = (ts + offset) // DAY
    wd = (local_day + 3) % 7
    move = (wd >= 5) & (rng.random(ts.size) > weekend_keep)
    local_day = np.where(move, local_day + (7 - wd), local_day)
    return local_day * DAY - offset + time_of_day(rng, ts.size, hours)
