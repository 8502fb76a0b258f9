"""The quality gate in Dagster: GX suites as blocking asset checks, then the publish step.

Raw suites check each raw table across loads (ids unique per version in the last load, no ids
lost since the last passed gate) right after ingest, before dbt reads it; the checks a record
shows on its own are dbt tests on the staging models, which skip every model built on the
failing table and fail `dbt_build`. Either way no mart suite or publish runs. Mart suites check
the candidate marts; only when all pass does `publish` make them live in `marts`, all of them
in one commit, so BI never sees a failed build nor marts of two runs side by side. A publish
also moves the watermark of the staging tables this run built and tested: the next run's
row-level dbt tests read only the rows loaded after it
(dbt_project/macros/tests/new_batch.sql). The marts published are dbt's (the models in
models/marts/), not the suites' list: a new mart is published even before its suite exists
(tests/orchestration/test_definitions.py fails until it does).
(No `from __future__ import annotations`: Dagster reads annotations at definition time.)
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    multi_asset,
    multi_asset_check,
)

from funnelhouse.expectations.gate import (
    previous_counts,
    record_counts,
    record_watermarks,
    summary,
)
from funnelhouse.expectations.runner import SuiteOutcome, TableSuite, Validator
from funnelhouse.expectations.suites import mart_suites, raw_suites
from funnelhouse.orchestration.assets.dbt import MARTS, STAGING_KEYS, dbt_build
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.orchestration.unchanged_inputs import record_published
from funnelhouse.warehouse.publish import CANDIDATE_DATABASE, PUBLISHED_DATABASE, publish


def _key(suite: TableSuite) -> AssetKey:
    return AssetKey(suite.relation.split("."))


def _specs(suites: list[TableSuite]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            name=s.check_name,
            asset=_key(s),
            blocking=True,
            description=f"{len(s.expectations)} expectations: "
            + "; ".join(e.description for e in s.expectations),
        )
        for s in suites
    ]


def _result(outcome: SuiteOutcome) -> AssetCheckResult:
    failures = {
        (f.description or f.expectation): {
            "unexpected": f.unexpected_count,
            "observed": str(f.observed_value)[:200],
            "sample": [str(v)[:200] for v in f.sample],
        }
        for f in outcome.failures
    }
    return AssetCheckResult(
        asset_key=_key(outcome.suite),
        check_name=outcome.suite.check_name,
        passed=outcome.success,
        severity=AssetCheckSeverity.ERROR,
        description=summary(outcome),
        metadata={
            "expectations": len(outcome.outcomes),
            "failed": len(outcome.failures),
            "failures": MetadataValue.json(failures),
            "seconds": round(outcome.seconds, 2),
            "data_docs": MetadataValue.path(str(outcome.docs_path)),
        },
    )


def _validate(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, suites: list[TableSuite]
) -> Iterator[AssetCheckResult]:
    selected = context.selected_asset_check_keys
    validator = Validator(warehouse.settings())
    with warehouse.client() as client:
        for suite in suites:
            if AssetCheckKey(_key(suite), suite.check_name) not in selected:
                continue
            outcome = validator.validate(suite)
            record_counts(client, outcome)
            if not outcome.success:
                context.log.error(summary(outcome))
            yield _result(outcome)
    context.log.info(f"Data Docs: {validator.build_docs()}")


@multi_asset_check(specs=_specs(raw_suites()), name="raw_suites", can_subset=True)
def raw_checks(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[AssetCheckResult]:
    with warehouse.client() as client:
        suites = raw_suites(previous_counts(client))
    yield from _validate(context, warehouse, suites)


@multi_asset_check(specs=_specs(mart_suites(CANDIDATE_DATABASE)), name="mart_suites",
                   can_subset=True)  # fmt: skip
def mart_checks(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[AssetCheckResult]:
    yield from _validate(context, warehouse, mart_suites(CANDIDATE_DATABASE))


@multi_asset(
    specs=[
        AssetSpec(
            [PUBLISHED_DATABASE, m],
            deps=[candidate],
            group_name="published",
            description=f"marts.{m}: a view of the validated candidate's version, made live "
            "together with the other marts by one row in marts.publish_log.",
            kinds={"clickhouse"},
        )
        for m, candidate in MARTS.items()
    ],
    name="publish_marts",
    pool="marts_publish",  # one publish at a time: each drops the versions the other stages
)
def publish_marts(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[MaterializeResult]:
    with warehouse.client() as client:
        done = publish(
            client, list(MARTS), cluster=warehouse.settings().cluster, run_id=context.run_id
        )
        context.log.info(
            f"marts show publish {done.publish_id} (as of {done.as_of}, run {done.run_id})"
            + ("" if done.committed else ": this candidate was live already")
        )
        marks = record_watermarks(client, _staging_built_here(context, client))
        context.log.info(f"batch validation starts after: {marks}")
        if _built_every_dbt_model(context):
            record_published(client, context.run.run_id, done.publish_id)
        for mart in MARTS:
            # Read through the view: what BI sees now, not what was staged.
            rows = int(client.command(f"SELECT count() FROM {PUBLISHED_DATABASE}.{mart}"))
            yield MaterializeResult(
                asset_key=AssetKey([PUBLISHED_DATABASE, mart]),
                metadata={
                    "rows": rows,
                    "publish_id": done.publish_id,
                    "as_of": str(done.as_of),
                    "how": "published" if done.committed else "already live",
                },
            )


def _built_every_dbt_model(context: AssetExecutionContext) -> bool:
    """Whether this run built every staging, intermediate and mart model: only then are the
    inputs its staging step read those of the marts it published."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    built = {r.event_log_entry.dagster_event.asset_key for r in records
             if r.event_log_entry.dagster_event is not None}  # fmt: skip
    return built >= dbt_build.keys


def _staging_built_here(context: AssetExecutionContext, client) -> list[str]:
    """The staging tables with a load time that this run built (and so tested: a failed dbt
    test fails the step, and no publish follows); the others keep their watermark."""
    loaded = {
        (database, table)
        for database, table in client.query(
            "SELECT database, table FROM system.columns WHERE name = 'loaded_at'"
        ).result_rows
    }
    built = []
    for key in sorted(STAGING_KEYS, key=lambda k: k.to_user_string()):
        if tuple(key.path) not in loaded:
            continue
        event = context.instance.get_latest_materialization_event(key)
        if event is not None and event.run_id == context.run.run_id:
            built.append(".".join(key.path))
    return built
