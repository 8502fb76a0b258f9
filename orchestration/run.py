"""Run a job of the code location in this process (the CLI, the demo, the end-to-end test)."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from typing import TYPE_CHECKING

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    JobExecutionResult,
    build_reconstructable_job,
    execute_job,
)
from dagster._core.definitions.asset_selection import DagsterInvalidAssetSelectionError

from funnelhouse.ingest.secrets import redact_env
from funnelhouse.ingest.sources import SOURCES
from funnelhouse.orchestration.dbt_project import prepare_dbt_project
from funnelhouse.orchestration.instance import dagster_home
from funnelhouse.orchestration.modes import SINCE_TAG
from funnelhouse.warehouse.settings import WarehouseSettings

if TYPE_CHECKING:
    from funnelhouse.progress import StepDisplay

ExecutionResult = ExecuteInProcessResult | JobExecutionResult
# Tags the run a `display` watches, so its watcher finds it among the instance's runs.
WATCH_TAG = "funnelhouse/watch"


class JobFailed(RuntimeError):
    pass


def load_definitions() -> Definitions:
    """The code location, its dbt manifest parsed first: outside `dagster dev` nothing else
    would (a fresh clone has none, and an edited model must not run from a stale one)."""
    prepare_dbt_project()
    from funnelhouse.orchestration.definitions import defs

    return defs


def resolve_selection(select: str) -> list[AssetKey]:
    """Asset keys for `--select`: a source name means its ingest assets and everything
    downstream of them; anything else is a Dagster selection string (`key:"raw/uis__calls"`,
    `group:raw_uis+`, `tag:source=uis`, ...). A malformed selection fails before the code
    location loads (seconds of imports and a dbt parse)."""
    if select in SOURCES:
        selection = AssetSelection.groups(f"raw_{select}").downstream()
    else:
        try:
            selection = AssetSelection.from_string(select)
        except DagsterInvalidAssetSelectionError as exc:
            raise ValueError(
                f"{exc}. Use a source ({', '.join(SOURCES)}) or Dagster's selection syntax, "
                'e.g. key:"raw/uis__calls", group:raw_uis+, tag:source=uis.'
            ) from None
    graph = load_definitions().resolve_asset_graph()
    keys = sorted(selection.resolve(graph), key=lambda k: k.to_user_string())
    if not keys:
        raise ValueError(f"--select {select!r} matches no asset; the groups are raw_<source>, "
                         "and `dagster asset list` shows every key")  # fmt: skip
    return keys


def run_job(
    name: str,
    settings: WarehouseSettings,
    instance: DagsterInstance | None = None,
    log_level: str = "INFO",
    select: str | None = None,
    since: str | None = None,
    display: StepDisplay | None = None,
) -> ExecutionResult:
    """Execute `incremental` or `full_refresh` (or the assets `select` names of it, with a
    backfill `since` a date); raises JobFailed naming what failed, each cause once.

    The job runs on its own executor, as from the UI or the schedule: each source's streams
    in turn, the sources side by side. An ephemeral instance (tests) keeps its storage in
    memory, which step processes cannot share, so there the steps run here one by one.
    `display` is fed each step's start, progress and end from the run's event log."""
    if since and name != "incremental":
        raise JobFailed("--since backfills within the incremental job; full_refresh re-reads all")
    try:
        keys = resolve_selection(select) if select else None
    except ValueError as exc:
        raise JobFailed(str(exc)) from None
    defs = load_definitions()
    if instance is None:
        dagster_home(settings)
        instance = DagsterInstance.get()
    tags = {SINCE_TAG: since} if since else {}
    watch = nullcontext()
    if display is not None:
        from funnelhouse.progress import RunWatcher

        tags[WATCH_TAG] = uuid.uuid4().hex
        watch = RunWatcher(instance, display, (WATCH_TAG, tags[WATCH_TAG])).running()
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    result: ExecutionResult
    with watch:
        if instance.is_ephemeral:
            result = defs.resolve_job_def(name).execute_in_process(
                instance=instance, raise_on_error=False, run_config=run_config,
                asset_selection=keys, tags=tags,
            )  # fmt: skip
        else:
            job = build_reconstructable_job(
                "funnelhouse.orchestration.definitions", "job_named", (name,)
            )
            result = execute_job(
                job, instance, run_config=run_config, tags=tags, asset_selection=keys
            )
    if not result.success:
        failed_checks = [
            f"{e.asset_key.to_user_string()}: {e.check_name} — {e.description or ''}".strip()
            for e in result.get_asset_check_evaluations()
            if not e.passed
        ]
        failed_steps = _failed_steps(result)
        detail = "\n".join(failed_checks + failed_steps) or "see the run's events"
        raise JobFailed(
            redact_env(
                f"job {name} (run {result.run_id}) failed; `marts` was left as it was.\n{detail}"
            )
        )
    return result


def _failed_steps(result: ExecutionResult) -> list[str]:
    """One line per failed step, with the root cause (a failed source's step: its streams)."""
    return [
        f"{e.step_key}: {_root_cause(e.event_specific_data.error)[:1000]}"
        for e in result.all_events
        if e.is_step_failure and e.event_specific_data and e.event_specific_data.error
    ]


def _root_cause(error) -> str:
    """The innermost error's message: Dagster wraps the connector's SourceError (which names
    the source, stream and record) in its own step-execution error."""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    # A Failure's message is "dagster...Failure: <description>": the description is the news.
    prefix, _, rest = message.partition("Failure: ")
    return rest if rest and "." in prefix and " " not in prefix else message
