"""Read the JUnit XML both pytest and vitest write into one outcome per test."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Outcome:
    test_id: str  # "<classname>::<name>"
    status: str  # passed | failed | error | skipped
    message: str


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def read_outcomes(path: Path) -> list[Outcome]:
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        status, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                status = {"failure": "failed"}.get(tag, tag)
                message = _first_line(node.get("message")) or _first_line(node.text)
                break
        outcomes.append(Outcome(test_id, status, message))
    return outcomes
