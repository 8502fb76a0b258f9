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


@dataclass(frozen=True)
class LeftOut:
    """A test folder not run at all: its tests need the feature and would leave state behind
    that fails the tests after them (dbt's Replicated-database tests switch the session's
    database engine)."""

    suite: str
    path: str  # relative to the checkout, given to pytest as --ignore
    feature: str
    reason: str


def _check_feature(path: Path, number: int, what: str, feature: str) -> None:
    if feature not in FEATURES:
        raise ValueError(
            f"{path.name} entry {number} ({what}): feature {feature!r} is not a server feature "
            f"chDB lacks (expected one of {sorted(FEATURES)}); fix the endpoint or let the test "
            "count as a failure"
        )


def load_gaps(path: Path = GAPS_FILE) -> list[Gap]:
    gaps = []
    for number, entry in enumerate(tomllib.loads(path.read_text()).get("gap", []), 1):
        _check_feature(path, number, entry["test"], entry["feature"])
        gaps.append(Gap(entry["suite"], entry["test"], entry["feature"], entry["reason"]))
    return gaps


def load_left_out(path: Path = GAPS_FILE) -> list[LeftOut]:
    left = []
    for number, entry in enumerate(tomllib.loads(path.read_text()).get("left_out", []), 1):
        _check_feature(path, number, entry["path"], entry["feature"])
        left.append(LeftOut(entry["suite"], entry["path"], entry["feature"], entry["reason"]))
    return left


def gap_for(gaps: list[Gap], suite: str, test_id: str) -> Gap | None:
    return next((gap for gap in gaps if gap.matches(suite, test_id)), None)
