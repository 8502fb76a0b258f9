"""Managers (skill, activity, a burn-out dip) and clients (companies, contacts, phones, INN).

Phones and INNs are built by a bijection of the row index, so they are unique without a
lookup table even at 10 M rows; unknown callers get indices past the known ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import AMOCRM, BITRIX24, person_name
from funnelhouse.simulator.company.timing import DAY

_PHONE_P = 999_999_937  # prime: (a*i + b) mod P is a permutation of 0..P-1
_INN_P = 9_999_991


def managers(rng: np.random.Generator, scale: float, start: int, end: int) -> pd.DataFrame:
    n = max(4, round(8 * scale))
    n_b24 = max(1, round(n * 0.25))
    crm = np.array([AMOCRM] * (n - n_b24) + [BITRIX24] * n_b24)
    rank_in_crm = np.concatenate([np.arange(n - n_b24), np.arange(n_b24)])
    names = [person_name(1000 + i) for i in range(n)]
    span = end - start
    burn_len = rng.integers(40, 95, size=n) * DAY
    burn_start = start + (rng.random(n) * (span - burn_len)).astype(np.int64)
    hired = np.where(
        rng.random(n) < 0.2,
        start + (rng.random(n) * span * 0.5).astype(np.int64),
        start - 400 * DAY,
    )
    return pd.DataFrame(
        {
            "crm": crm,
            # amoCRM user ids are large account-wide numbers; Bitrix24 users are small ints
            # (user 1 is the portal admin who owns the webhook).
            "user_id": np.where(crm == AMOCRM, 5_120_001 + rank_in_crm * 37, 11 + rank_in_crm),
            "uis_employee_id": 40_001 + np.arange(n),
            "first_name": [f for f, _ in names],
            "last_name": [last for _, last in names],
            "skill": np.clip(rng.normal(1.0, 0.22, n), 0.55, 1.5),
            "activity": np.clip(rng.normal(1.0, 0.25, n), 0.5, 1.6),
            "burnout_start": burn_start,
            "burnout_end": burn_start + burn_len,
            "hired_at": hired,
        }
    )


def in_burnout(mgr: pd.DataFrame, idx: np.ndarray, ts: np.ndarray) -> np.ndarray:
    b0 = mgr["burnout_start"].to_numpy()[idx]
    b1 = mgr["burnout_end"].to_numpy()[idx]
    return (ts >= b0) & (ts < b1)


def phone(index: np.ndarray, a: int, b: int) -> np.ndarray:
    """11-digit Russian mobile numbers (as int64), unique per index."""
    return 79_000_000_000 + (index.astype(np.int64) * a + b) % _PHONE_P


def inn(index: np.ndarray, individual: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Valid INNs: 10 digits for organisations, 12 for sole traders (ИП), with check digits."""
    region = rng.choice(np.array([77, 78, 50, 66, 54, 16, 23, 52]), size=index.size)
    body = (index.astype(np.int64) * 7_654_321 + 1_234_567) % _INN_P
    digits10 = np.stack(
        [region // 10, region % 10] + [body // 10**k % 10 for k in range(6, -1, -1)], axis=1
    )
    w10 = np.array([2, 4, 10, 3, 5, 9, 4, 6, 8])
    c10 = (digits10 @ w10) % 11 % 10
    extra = (index.astype(np.int64) * 31 + 7) % 10  # 10th body digit for 12-digit INNs
    digits12 = np.concatenate([digits10, extra[:, None]], axis=1)
    w11 = np.array([7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
    c11 = (digits12 @ w11) % 11 % 10
    digits12b = np.concatenate([digits12, c11[:, None]], axis=1)
    w12 = np.array([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
    c12 = (digits12b @ w12) % 11 % 10
    full10 = np.concatenate([digits10, c10[:, None]], axis=1)
    full12 = np.concatenate([digits12b, c12[:, None]], axis=1)
    v10 = full10 @ (10 ** np.arange(9, -1, -1, dtype=np.int64))
    v12 = full12 @ (10 ** np.arange(11, -1, -1, dtype=np.int64))
    # Regions start with a non-zero digit, so plain str() keeps every digit.
    return np.where(individual, v12, v10).astype(str).astype(object)
