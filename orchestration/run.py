"""Run a job of the code location in this process (the CLI, the demo, the end-to-end test)."""

from __future__ import annotations

from dagster import DagsterInstance, ExecuteInProcessResult

from funnelhouse.orchestration.instance import dagster_home
from funnelhouse.warehouse.settings import WarehouseSettings


class JobFailed(RuntimeError):
    pass


def run_job(
    name: str,
    settings: WarehouseSettings,
    instance: DagsterInstance | None = None,
    log_level: str = "INFO",
):
    """Execute `incremental` or `full_refresh`; raises JobFailed naming what failed."""
    from funnelhouse.orchestration.definitions import defs

    if instance is None:
        dagster_home(settings)
        instance = DagsterInstance.get()
    result: ExecuteInProcessResult = defs.resolve_job_def(name).execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    if not result.success:
        failed_checks = [
            f"{e.asset_key.to_user_string()}: {e.check_name} — {e.description or ''}".strip()
            for e in result.get_asset_check_evaluations()
            if not e.passed
        ]
        failed_steps = [
            f"{e.step_key}: {_root_cause(e.event_specific_data.error)[:500]}"
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data and e.event_specific_data.error
        ]
        detail = "\n".join(failed_checks + failed_steps) or "see the run's events"
        raise JobFailed(
            f"job {name} (run {result.run_id}) failed; `marts` was left as it was.\n{detail}"
        )
    return result


def _root_cause(error) -> str:
    """The innermost error's message: Dagster wraps the connector's SourceError (which names
    the source, stream and record) in its own step-execution error."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()
