"""The upstream tests that need a server feature chDB lacks, read from known_gaps.toml.

Each entry names the feature; a failing test on the list is counted under that feature, not as
a failure. A feature outside FEATURES is refused: any other gap is the endpoint's to fix."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

FEATURES = frozenset({"users", "roles", "clusters", "query_log", "s3", "grants"})
GAPS_FILE = Path(__file__).with_name("known_gaps.toml")


@dataclass(frozen=True)
class Gap:
    suite: str
    test: str  # fnmatch pattern over "<classname>::<name>"
    feature: str
    reason: str

    def matches(self, suite: str, test_id: str) -> bool:
        return suite == self.suite and fnmatch.fnmatchcase(test_id, self.test)


def load_gaps(path: Path = GAPS_FILE) -> list[Gap]:
    entries = tomllib.loads(path.read_text()).get("gap", [])
    gaps = []
    for number, entry in enumerate(entries, 1):
        gap = Gap(entry["suite"], entry["test"], entry["feature"], entry["reason"])
        if gap.feature not in FEATURES:
            raise ValueError(
                f"{path.name} entry {number} ({gap.test}): feature {gap.feature!r} is not a "
                f"server feature chDB lacks (expected one of {sorted(FEATURES)}); fix the "
                "endpoint or let the test count as a failure"
            )
        gaps.append(gap)
    return gaps


def gap_for(gaps: list[Gap], suite: str, test_id: str) -> Gap | None:
    return next((gap for gap in gaps if gap.matches(suite, test_id)), None)
