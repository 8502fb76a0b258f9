"""Per-suite figures, skip classes with their reasons, and the known-gap tally, as JSON and
Markdown."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from compat.junit import Outcome
from compat.known_gaps import Gap, gap_for, load_left_out


@dataclass
class SuiteResult:
    suite: str
    commit: str
    exit_code: int | None
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    known_gap: dict[str, int] = field(default_factory=dict)
    skip_classes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    listed_but_passed: list[str] = field(default_factory=list)
    note: str = ""
    finished: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

    @property
    def pass_rate(self) -> float | None:
        """Passed among the tests that ran and need no feature chDB lacks."""
        ran = self.passed + self.failed + self.errors
        return round(100 * self.passed / ran, 2) if ran else None


def _skip_class(message: str, test_id: str) -> str:
    where = test_id.split("::", 1)[0]
    text = message or f"no reason given (it.skip / skipIf in {where})"
    text = re.sub(r"^(Skipped: ?)", "", text)
    return re.sub(r"\d{6,}", "N", text)[:200]


def summarise(
    suite: str, commit: str, exit_code: int | None, outcomes: list[Outcome], gaps: list[Gap]
) -> SuiteResult:
    result = SuiteResult(suite, commit, exit_code)
    known: Counter[str] = Counter()
    skips: Counter[str] = Counter()
    for outcome in outcomes:
        gap = gap_for(gaps, suite, outcome.test_id)
        if outcome.status == "passed":
            result.passed += 1
            if gap is not None:
                result.listed_but_passed.append(outcome.test_id)
        elif outcome.status == "skipped":
            result.skipped += 1
            skips[_skip_class(outcome.message, outcome.test_id)] += 1
        elif gap is not None:
            known[f"{gap.feature}: {gap.reason}"] += 1
        else:
            if outcome.status == "failed":
                result.failed += 1
            else:
                result.errors += 1
            result.failures.append(f"{outcome.test_id}: {outcome.message}")
    result.known_gap = dict(known.most_common())
    result.skip_classes = dict(skips.most_common())
    return result


def _earlier_results(out_dir: Path, current: list[SuiteResult]) -> list[SuiteResult]:
    """Suites an earlier run measured and this one did not: kept, with their date."""
    path = out_dir / "results.json"
    if not path.exists():
        return []
    names = {r.suite for r in current}
    kept = []
    for entry in json.loads(path.read_text()):
        entry.pop("pass_rate", None)
        if entry["suite"] not in names:
            kept.append(SuiteResult(**entry))
    return kept


def write_reports(current: list[SuiteResult], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    results = sorted(current + _earlier_results(out_dir, current), key=lambda r: r.suite)
    data = [asdict(r) | {"pass_rate": r.pass_rate} for r in results]
    (out_dir / "results.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    lines = ["# Upstream client suites against the embedded endpoint", ""]
    lines += [
        "| suite | commit | run | passed | failed | errors | skipped | known gaps (chDB lacks) "
        "| pass rate |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        by_feature: Counter[str] = Counter()
        for key, n in r.known_gap.items():
            by_feature[key.split(":", 1)[0]] += n
        gap_text = ", ".join(f"{k} {v}" for k, v in by_feature.items()) or "0"
        rate = f"{r.pass_rate} %" if r.pass_rate is not None else "n/a"
        lines.append(
            f"| {r.suite} | {r.commit[:10]} | {r.finished} | {r.passed} | {r.failed} | {r.errors} "
            f"| {r.skipped} | {gap_text} | {rate} |"
        )
    lines += [
        "",
        "Pass rate: passed / (passed + failed + errors); a failing test listed in "
        "`compat/known_gaps.toml` counts under its feature, not as a failure.",
        "",
    ]
    for r in results:
        lines += [f"## {r.suite}", ""]
        if r.note:
            lines += [r.note, ""]
        left_out = [e for e in load_left_out() if e.suite == r.suite]
        if left_out:
            lines += ["Not run (`left_out` in compat/known_gaps.toml):", ""]
            lines += [f"- `{e.path}`: {e.feature}, {e.reason}" for e in left_out] + [""]
        if r.skip_classes:
            lines += ["Skipped by the suite itself:", "", "| tests | reason |", "| --- | --- |"]
            lines += [
                f"| {n} | {reason.replace('|', '/')} |" for reason, n in r.skip_classes.items()
            ]
            lines.append("")
        if r.known_gap:
            lines += ["Known gaps:", "", "| tests | feature | why |", "| --- | --- | --- |"]
            for key, n in r.known_gap.items():
                feature, why = key.split(": ", 1)
                lines.append(f"| {n} | {feature} | {why} |")
            lines.append("")
        if r.listed_but_passed:
            lines += ["Listed as gaps but passed (shorten the list):", ""]
            lines += [f"- `{t}`" for t in r.listed_but_passed] + [""]
        if r.failures:
            lines += ["Failures and errors:", ""]
            lines += [f"- `{f}`" for f in r.failures] + [""]
    (out_dir / "results.md").write_text("\n".join(lines))
    return out_dir / "results.md"
