"""Wall time and peak memory of the processes a benchmark step involves.

The warehouse and dbt run in their own processes, so a sampler thread follows the warehouse's
pid and every descendant of this process, and keeps the peak resident set per role.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import psutil

MIB = 1024 * 1024


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    peak_mib: dict[str, float] = field(default_factory=dict)


def _role(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "other"
    if "dbt" in cmd:
        return "dbt"
    if "pandas_baseline" in cmd:
        return "pandas"
    return "other"


class Sampler:
    """Peak RSS per role: `warehouse`, `bench` (this process), `dbt`, `pandas`."""

    def __init__(self, warehouse_pid: int | None, interval: float = 0.05):
        self.warehouse = psutil.Process(warehouse_pid) if warehouse_pid else None
        self.me = psutil.Process(os.getpid())
        self.interval = interval
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        now: dict[str, float] = {}
        procs: list[tuple[str, psutil.Process]] = [("bench", self.me)]
        if self.warehouse is not None:
            procs.append(("warehouse", self.warehouse))
        with suppress(psutil.Error):
            procs += [(_role(c), c) for c in self.me.children(recursive=True)]
        for role, proc in procs:
            try:
                now[role] = now.get(role, 0.0) + proc.memory_info().rss / MIB
            except psutil.Error:
                continue
        for role, mib in now.items():
            self.peaks[role] = max(self.peaks.get(role, 0.0), mib)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> Sampler:
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()


@contextmanager
def step(name: str, warehouse_pid: int | None, steps: list[Step]) -> Iterator[Step]:
    record = Step(name)
    start = time.perf_counter()
    with Sampler(warehouse_pid) as sampler:
        yield record
    record.seconds = time.perf_counter() - start
    record.peak_mib = {k: round(v, 1) for k, v in sampler.peaks.items() if k != "other"}
    steps.append(record)


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Runs a command to the end; (seconds, peak RSS MiB) from the kernel's own accounting."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is KiB on Linux
