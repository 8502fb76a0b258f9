"""Progress of a pipeline run for people: a live view on a terminal, plain lines elsewhere.

A run's steps (one per source, the dbt builds, the gates, the publish) report through one
`StepDisplay`; an ingest step's streams each get a line as they finish. On a terminal it keeps
a rich progress bar per running step; otherwise (a log, CI, a pipe) it prints plain lines
without escape codes: one when a step or stream ends, and a heartbeat naming what still runs
whenever nothing was printed for `HEARTBEAT_SECONDS`, so a long dbt build never looks like a
hang. Whatever the steps print themselves (dbt's log, Dagster's, GX's) goes to a file instead
(`redirect_output`), whose path the caller prints.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from dagster import DagsterInstance, EventLogEntry

# Under the 10 s a person waits before wondering whether it hangs, with the tick's slack.
HEARTBEAT_SECONDS = 8.0
POLL_SECONDS = 0.5
# Ingest steps log their progress in this shape; the watcher of the run parses it back.
_PROGRESS = re.compile(r"^progress (?P<key>\S+): (?P<pages>\d+) pages, (?P<rows>\d+) rows$")


def progress_message(stream_key: str, pages: int, rows: int) -> str:
    """The log line an ingest step writes while it pages through a stream."""
    return f"progress {stream_key}: {pages} pages, {rows} rows"


_UNCHANGED = "inputs unchanged since publish "


def unchanged_message(publish_id: str) -> str:
    """The log line of a dbt step that built nothing: its inputs are the live marts'."""
    return (
        f"{_UNCHANGED}{publish_id}: no record in raw changed since (records read again as "
        "they were do not count), nor the dbt project or its settings, so the marts stay as "
        "published (the full_refresh job rebuilds them anyway)"
    )


def parse_progress(message: str) -> tuple[str, int, int] | None:
    match = _PROGRESS.match(message.strip())
    if not match:
        return None
    return match["key"], int(match["pages"]), int(match["rows"])


INGEST_STEP_PREFIX = "ingest_"  # + a source's name: the step that loads it (assets/ingest.py)


def step_label(step_key: str) -> str:
    """`ingest_amocrm` (the step that loads a source) reads as `amocrm`; others as named."""
    return step_key.removeprefix(INGEST_STEP_PREFIX)


def stream_label(asset_path: list[str]) -> str:
    """`raw/amocrm__leads` reads as `amocrm/leads`."""
    return asset_path[-1].replace("__", "/", 1)


@dataclass
class StepState:
    label: str
    started: float
    pages: int | None = None
    rows: int | None = None
    done: str = ""  # what a step without pages has finished so far ("40 tables, 120 checks")
    task: TaskID | None = None


@dataclass
class StepOutcome:
    label: str
    seconds: float
    ok: bool
    rows: int | None = None
    pages: int | None = None
    assets: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    detail: str = ""
    skipped: bool = False  # Dagster skipped it: the step before built nothing it reads


def _count(value: int | None, unit: str) -> str:
    return "" if value is None else f"{value:,} {unit}"


class StepDisplay:
    """Steps as they start, advance and end; thread-safe (a watcher and a heartbeat feed it)."""

    def __init__(
        self,
        console: Console,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.console = console
        self.clock = clock
        self.heartbeat = heartbeat
        self.started = clock()
        self.activity: str | None = None  # what runs outside any step ("dbt parse", ...)
        self.running: dict[str, StepState] = {}
        self.outcomes: list[StepOutcome] = []
        self._last_output = self.started
        self._lock = threading.RLock()
        self._live: Progress | None = None
        if console.is_terminal:
            self._live = Progress(
                SpinnerColumn(), TextColumn("{task.description:<32}"),
                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                console=console, transient=True,
            )  # fmt: skip

    def __enter__(self) -> StepDisplay:
        if self._live:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._live.stop()

    def _elapsed(self) -> str:
        return f"[{self.clock() - self.started:5.0f} s]"

    def line(self, text: str) -> None:
        """A line above the live view (terminal) or in the log (anything else)."""
        with self._lock:
            self.console.print(f"{self._elapsed()} {text}", markup=False, highlight=False)
            self._last_output = self.clock()

    def say(self, text: str) -> None:
        """A message of the caller's (rich markup allowed), which counts as output too."""
        with self._lock:
            self.console.print(text, highlight=False)
            self._last_output = self.clock()

    @contextmanager
    def phase(self, label: str) -> Iterator[None]:
        """Work outside the run's steps: the heartbeat names it, a spinner shows it."""
        task = self._live.add_task(label, counts="") if self._live else None
        with self._lock:
            self.activity = label
        try:
            yield
        finally:
            with self._lock:
                self.activity = None
            if self._live and task is not None:
                self._live.remove_task(task)

    def step_started(self, step_key: str) -> None:
        with self._lock:
            state = StepState(step_label(step_key), self.clock())
            if self._live:
                state.task = self._live.add_task(state.label, counts="")
            self.running[step_key] = state

    def step_advanced(self, step_key: str, pages: int, rows: int, label: str | None = None) -> None:
        """`label`: what the step works on now (an ingest step's stream)."""
        with self._lock:
            state = self.running.get(step_key)
            if state is None:
                return
            state.pages, state.rows = pages, rows
            state.label = label or state.label
            if self._live and state.task is not None:
                self._live.update(
                    state.task, description=state.label, counts=f"{pages:,} pages, {rows:,} rows"
                )

    def step_counted(self, step_key: str, done: str) -> None:
        """What a step without pages (the dbt build, the suites) has finished so far."""
        with self._lock:
            state = self.running.get(step_key)
            if state is None:
                return
            state.done = done
            if self._live and state.task is not None:
                self._live.update(state.task, counts=done)

    def stream_finished(self, step_key: str, outcome: StepOutcome) -> None:
        """A stream of a running ingest step is loaded; the step goes on with the next."""
        with self._lock:
            state = self.running.get(step_key)
            if state is not None:
                state.label, state.pages, state.rows = step_label(step_key), None, None
                if self._live and state.task is not None:
                    self._live.update(state.task, description=state.label, counts="")
            self._report(outcome)

    def step_finished(self, step_key: str, outcome: StepOutcome | None) -> None:
        """`outcome` None: the step's work was reported already (an ingest step's streams)."""
        with self._lock:
            state = self.running.pop(step_key, None)
            if self._live and state and state.task is not None:
                self._live.remove_task(state.task)
            if outcome is not None:
                self._report(outcome)

    def _report(self, outcome: StepOutcome) -> None:
        with self._lock:
            earlier = next((o for o in self.outcomes if o.label == outcome.label), None)
            if earlier is not None and "/" in outcome.label:
                # A retried ingest step loads its streams again (from their cursors): one line
                # per stream, its rows and time summed over the attempts.
                earlier.rows = (earlier.rows or 0) + (outcome.rows or 0)
                earlier.pages = (earlier.pages or 0) + (outcome.pages or 0)
                earlier.seconds += outcome.seconds
                return
            self.outcomes.append(outcome)
            parts = [
                _count(outcome.rows, "rows"),
                _count(outcome.pages, "pages"),
                _count(outcome.assets or None, "tables") if outcome.rows is None else "",
                f"{outcome.checks_passed}/{outcome.checks_passed + outcome.checks_failed} "
                "checks passed"
                if outcome.checks_passed + outcome.checks_failed
                else "",
                f"{outcome.seconds:.1f} s",
                outcome.detail,
            ]
            if outcome.skipped:
                self.line(f"skip   {outcome.label:<30} nothing new to build from")
                return
            status = "done  " if outcome.ok else "FAILED"
            self.line(f"{status} {outcome.label:<30} " + ", ".join(p for p in parts if p))

    def tick(self) -> None:
        """Plain output only: a heartbeat line when nothing was printed for a while."""
        with self._lock:
            now = self.clock()
            if self._live or now - self._last_output < self.heartbeat:
                return
            doing = [
                f"{s.label} ({now - s.started:.0f} s"
                + (f", {s.rows:,} rows" if s.rows is not None else "")
                + (f", {s.done}" if s.done else "")
                + ")"
                for s in self.running.values()
            ]
            if self.activity:
                doing.insert(0, self.activity)
            self.line("still working: " + ("; ".join(doing) or "starting the next steps"))

    @contextmanager
    def heartbeats(self, every: float = 0.25) -> Iterator[None]:
        """A thread that calls `tick` until the block ends (wakes on the stop event)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                self.tick()

        thread = threading.Thread(target=beat, name="progress-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def summary(self) -> list[str]:
        """One screen: rows and time per source, then each other step with its checks."""
        by_source: dict[str, list[StepOutcome]] = {}
        others: list[StepOutcome] = []
        for o in self.outcomes:
            if "/" in o.label:
                by_source.setdefault(o.label.split("/", 1)[0], []).append(o)
            else:
                others.append(o)
        lines = []
        for source, steps in by_source.items():  # a failed source step: among the others
            lines.append(
                f"  {source:<10} {len(steps):>3} stream{'s' if len(steps) > 1 else ' '}"
                f"  {sum(s.rows or 0 for s in steps):>10,} "
                f"rows  {sum(s.seconds for s in steps):7.1f} s"
            )
        for o in others:
            checks = o.checks_passed + o.checks_failed
            status = "skip" if o.skipped else "ok" if o.ok else "FAILED"
            lines.append(
                f"  {o.label:<25} {status:<6} {o.seconds:7.1f} s"
                + (f"  {o.assets} tables" if o.assets else "")
                + (f"  {o.checks_passed}/{checks} checks passed" if checks else "")
                + (f"  {o.detail}" if o.detail else "")
            )
        return lines


@dataclass
class _StepTally:
    assets: int = 0
    passed: int = 0
    failed: int = 0
    started: float | None = None
    detail: str = ""

    def so_far(self) -> str:
        """What a step without pages has finished: "40 tables, 120 checks (2 failed)"."""
        parts = [f"{self.assets:,} tables"] if self.assets else []
        if checks := self.passed + self.failed:
            parts.append(f"{checks:,} checks" + (f" ({self.failed} failed)" if self.failed else ""))
        return ", ".join(parts)


@dataclass
class RunWatcher:
    """Feeds a display from a Dagster run's event log: the steps may run in other processes
    (the multiprocess executor), and the event log is where all of them report."""

    instance: DagsterInstance
    display: StepDisplay
    run_tag: tuple[str, str]
    run_id: str | None = None
    _cursor: str | None = None
    _tally: dict[str, _StepTally] = field(default_factory=dict)

    def _find_run(self) -> str | None:
        from dagster import RunsFilter

        key, value = self.run_tag
        ids = self.instance.get_run_ids(RunsFilter(tags={key: value}), limit=1)
        return ids[0] if ids else None

    def poll(self) -> None:
        if self.run_id is None:
            self.run_id = self._find_run()
            if self.run_id is None:
                return
        while True:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self._cursor)
            for record in conn.records:
                self.handle(record.event_log_entry)
            self._cursor = conn.cursor
            if not conn.has_more:
                return

    def handle(self, entry: EventLogEntry) -> None:
        from dagster import DagsterEventType as T

        event = entry.dagster_event
        step = entry.step_key
        if event is None:
            parsed = parse_progress(entry.user_message)
            if parsed and step:
                self.display.step_advanced(step, parsed[1], parsed[2], label=parsed[0])
            elif step and entry.user_message.startswith(_UNCHANGED):
                head = entry.user_message.split(": ", 1)[0]
                self._tally.setdefault(step, _StepTally()).detail = f"built nothing: {head}"
            return
        if step is None:
            return
        tally = self._tally.setdefault(step, _StepTally())
        kind = event.event_type
        ingest = step.startswith(INGEST_STEP_PREFIX)
        if kind == T.STEP_START:
            tally.started = entry.timestamp
            self.display.step_started(step)
        elif kind == T.ASSET_MATERIALIZATION:
            tally.assets += 1
            materialization = event.step_materialization_data.materialization
            meta = materialization.metadata
            if ingest and {"rows", "pages", "seconds"} <= meta.keys():
                self.display.stream_finished(step, StepOutcome(
                    label=stream_label(materialization.asset_key.path),
                    seconds=float(meta["seconds"].value),  # type: ignore[arg-type]
                    ok=True,
                    rows=int(meta["rows"].value),  # type: ignore[arg-type]
                    pages=int(meta["pages"].value),  # type: ignore[arg-type]
                ))  # fmt: skip
            elif not ingest:
                self.display.step_counted(step, tally.so_far())
        elif kind == T.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if evaluation.passed:
                tally.passed += 1
            else:
                tally.failed += 1
            if not ingest:
                self.display.step_counted(step, tally.so_far())
        elif kind == T.STEP_SUCCESS and ingest:
            self.display.step_finished(step, None)  # its streams were reported one by one
        elif kind in (T.STEP_SUCCESS, T.STEP_FAILURE):  # the failure's cause: in JobFailed
            seconds = entry.timestamp - (tally.started or entry.timestamp)
            outcome = StepOutcome(
                label=step_label(step), seconds=seconds, ok=kind == T.STEP_SUCCESS,
                assets=tally.assets,
                checks_passed=tally.passed, checks_failed=tally.failed, detail=tally.detail,
            )  # fmt: skip
            self.display.step_finished(step, outcome)
        elif kind == T.STEP_SKIPPED:
            self.display.step_finished(
                step, StepOutcome(label=step_label(step), seconds=0.0, ok=True, skipped=True)
            )
        elif kind == T.STEP_UP_FOR_RETRY:
            self.display.line(f"retry  {step_label(step)} (its source answered an error)")

    @contextmanager
    def running(self, every: float = POLL_SECONDS) -> Iterator[RunWatcher]:
        """Poll the event log in a thread while the block runs; a last poll after it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                self.poll()

        thread = threading.Thread(target=loop, name="run-watcher", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.poll()


def step_logs(run_id: str) -> Path | None:
    """Where Dagster kept what each step of the run printed (dbt's console log among it):
    `<DAGSTER_HOME>/storage/<run>/compute_logs`, also shown per step in the UI."""
    home = os.environ.get("DAGSTER_HOME")
    folder = Path(home) / "storage" / run_id / "compute_logs" if home else None
    return folder if folder and folder.is_dir() else None


@contextmanager
def redirect_output(log_path: Path) -> Iterator[TextIO]:
    """Send everything written to stdout and stderr (by this process and the step processes it
    starts: dbt's log, Dagster's, GX's) to `log_path`; yields a stream on the original stdout
    for the progress and summary people read."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    with log_path.open("w", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()


def terminal_console(stream: TextIO) -> Console:
    """A console on `stream`: live and coloured on a terminal, plain and 150 wide elsewhere."""
    if Console(file=stream).is_terminal:
        return Console(file=stream)
    return Console(file=stream, width=150, soft_wrap=True)
