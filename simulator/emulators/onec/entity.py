"""An entity set's description and the values 1C writes: GUIDs, local times, DataVersion."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from funnelhouse.simulator.company.directory import PROJECTS
from funnelhouse.simulator.emulators.timefmt import EMPTY_1C_DATE

if TYPE_CHECKING:
    from funnelhouse.simulator.emulators.onec.router import OneC

EMPTY_REF = "00000000-0000-0000-0000-000000000000"
ORG_KEY = "87fa6cc2-e901-11ea-8591-000c29b45b09"
RUB_KEY = "b2d3a1e0-e901-11ea-8591-000c29b45b09"
BANK_KEY = "c51a27d4-e901-11ea-8591-000c29b45b09"
NOMENCLATURE = [f"2d4fe7{i:02x}-48a4-11ec-ad72-000c29b45b09" for i in range(len(PROJECTS))]


@dataclass
class Entity:
    name: str
    kind: str  # catalog | document
    frame: Callable[[], pd.DataFrame]  # scalar properties in API form + `row`
    types: dict[str, str]  # property -> Edm type (scalar properties, in output order)
    tabular: Callable[[pd.DataFrame], dict[str, list[list[dict]]]] | None = None
    links: tuple[str, ...] = ()
    table_types: dict[str, dict[str, str]] | None = None


def cached(
    emu: OneC, name: str, build: Callable[[int], pd.DataFrame]
) -> Callable[[], pd.DataFrame]:
    """An entity set's frame, built once per clock value."""
    return lambda: emu.world.cached(f"onec.{name}", build)


def guid_strings(g: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Time-based (v1) looking GUIDs of one server, as 1C writes them."""
    return np.array(
        [
            f"{(int(a) >> 16) & 0xFFFFFFFF:08x}-{int(a) & 0xFFFF:04x}-11ee-"
            f"{(int(b) & 0x3FFF) | 0x8000:04x}-000c29b45b09"
            for a, b in zip(g, hi, strict=True)
        ],
        dtype=object,
    )


def local_strings(ts: np.ndarray, tz: str) -> np.ndarray:
    s = pd.to_datetime(pd.Series(np.maximum(ts, 0)), unit="s", utc=True).dt.tz_convert(tz)
    out = s.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    out[ts < 0] = EMPTY_1C_DATE
    return out


def data_version(seq: np.ndarray) -> np.ndarray:
    return np.array(
        [base64.b64encode(int(s).to_bytes(4, "big") + b"\0\0\0\0").decode() for s in seq],
        dtype=object,
    )


def versioned(t: pd.DataFrame, clock: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows existing at the clock, whether edited / marked by then, and their DataVersion."""
    rows = np.flatnonzero(t["created_at"].to_numpy() <= clock)
    edit, mark = t["edit_at"].to_numpy()[rows], t["mark_at"].to_numpy()[rows]
    edited = (edit >= 0) & (edit <= clock)
    marked = (mark >= 0) & (mark <= clock)
    seq = t["seq_created"].to_numpy()[rows]
    seq = np.where(edited, t["seq_edit"].to_numpy()[rows], seq)
    seq = np.where(marked & ((~edited) | (mark >= edit)), t["seq_mark"].to_numpy()[rows], seq)
    return rows, edited, marked, data_version(seq)  # type: ignore[return-value]


def num(x: float) -> float | int:
    """A Double as 1C writes it: 150129, not 150129.0."""
    return int(x) if float(x).is_integer() else round(float(x), 2)
