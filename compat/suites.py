"""The three upstream suites: how each gets its tools (from PyPI or npm, outside the project's
venv), and how it is pointed at the endpoint with the variables its own conftest reads."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Suite:
    name: str
    # Files that decide the tool environment; a change in one reinstalls it.
    requirement_files: tuple[str, ...]
    prepare: Callable[[Path, Path], None]  # (checkout, tool dir) -> None
    command: Callable[[Path, Path, Path], list[str]]  # (checkout, tool dir, junit path)
    env: Callable[[int], dict[str, str]]  # port -> variables the suite reads
    cwd: Callable[[Path], Path]


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def _stamp(checkout: Path, files: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update((checkout / name).read_bytes())
    return digest.hexdigest()


def ensure_tools(suite: Suite, checkout: Path, tool_dir: Path) -> None:
    """Install the suite's test dependencies once per version of its requirement files."""
    stamp_file = tool_dir / ".installed"
    stamp = _stamp(checkout, suite.requirement_files)
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    tool_dir.mkdir(parents=True, exist_ok=True)
    suite.prepare(checkout, tool_dir)
    stamp_file.write_text(stamp)


def _python_venv(
    requirements: str, editable: bool, pins: tuple[str, ...] = ()
) -> Callable[[Path, Path], None]:
    def prepare(checkout: Path, venv: Path) -> None:
        if not (venv / "bin" / "python").exists():
            _run([sys.executable, "-m", "venv", str(venv)])
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        _run([*pip, "-r", str(checkout / requirements), *pins])
        if editable:
            # The tests import the client from the checkout; install it as the suite expects.
            _run([*pip, "-e", str(checkout)])

    return prepare


def _npm_ci(checkout: Path, _tool_dir: Path) -> None:
    _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=checkout)


CONNECT = Suite(
    name="clickhouse-connect",
    requirement_files=("tests/test_requirements.txt", "setup.py", "pyproject.toml"),
    # The requirements pin NumPy 1.26 on Python 3.11 but leave pyarrow open, and the newest
    # (26) needs NumPy 2: without the pin the Arrow tests skip or fail to import.
    prepare=_python_venv("tests/test_requirements.txt", editable=True, pins=("pyarrow<26",)),
    command=lambda checkout, venv, junit: [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "tests/integration_tests",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "-o",
        "log_cli=false",
        "-q",
        "-rN",
        f"--junitxml={junit}",
    ],
    env=lambda port: {
        "CLICKHOUSE_CONNECT_TEST_HOST": "127.0.0.1",
        "CLICKHOUSE_CONNECT_TEST_PORT": str(port),
        "CLICKHOUSE_CONNECT_TEST_DOCKER": "False",
    },
    cwd=lambda checkout: checkout,
)

JS = Suite(
    name="clickhouse-js",
    requirement_files=("package-lock.json",),
    prepare=_npm_ci,
    command=lambda checkout, _tools, junit: [
        str(checkout / "node_modules" / ".bin" / "vitest"),
        "run",
        "--config",
        "packages/client-node/vitest.config.ts",
        "--reporter=default",
        "--reporter=junit",
        f"--outputFile.junit={junit}",
    ],
    env=lambda port: {"TEST_MODE": "integration", "CI": ""},
    cwd=lambda checkout: checkout,
)

DBT = Suite(
    name="dbt-clickhouse",
    requirement_files=("dev_requirements.txt", "pyproject.toml"),
    prepare=_python_venv("dev_requirements.txt", editable=True),
    command=lambda checkout, venv, junit: [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "tests/integration/adapter",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rN",
        "--timeout=900",
        f"--junitxml={junit}",
    ],
    env=lambda port: {"DBT_CH_TEST_HOST": "127.0.0.1", "DBT_CH_TEST_PORT": str(port)},
    cwd=lambda checkout: checkout,
)

SUITES = {suite.name: suite for suite in (CONNECT, JS, DBT)}
