"""The code location loads, and its shape is what was reviewed.

The asset graph (every asset with its group and upstream keys, every check, job, schedule and
sensor) is compared to a committed snapshot, so an asset that silently drops out of the graph,
loses an upstream edge or its gate shows up as a diff in review. After an intended change,
regenerate it with `UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest
tests/orchestration/test_definitions.py` and commit tests/orchestration/snapshots/.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    Definitions,
    JobDefinition,
    asset,
    build_reconstructable_job,
    define_asset_job,
    execute_job,
    instance_for_test,
    materialize,
)
from dagster_dbt import DbtCliResource

from funnelhouse.dbt import business_timezone
from funnelhouse.expectations.suites import mart_suites
from funnelhouse.ingest.http import SourceError
from funnelhouse.ingest.sources import SOURCES
from funnelhouse.orchestration.assets import dbt as dbt_assets
from funnelhouse.orchestration.assets import ingest
from funnelhouse.orchestration.assets.dbt import DBT_PROJECT, MARTS, SCHEDULED_BUILD_ARGS, dbt_build
from funnelhouse.orchestration.jobs import PIPELINE_EXECUTOR_CONFIG, pipeline_executor
from funnelhouse.orchestration.modes import FULL_REFRESH, INCREMENTAL, MODE_TAG, SINCE_TAG
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.orchestration.run import load_definitions
from funnelhouse.warehouse.publish import CANDIDATE_DATABASE, PUBLISHED_DATABASE

SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_graph.json"
REGENERATE = "UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/orchestration/test_definitions.py"


def _key(key: AssetKey) -> str:
    return key.to_user_string()


def asset_graph(defs: Definitions) -> dict[str, Any]:
    """The reviewed shape of the code location, as plain sorted JSON."""
    graph = defs.resolve_asset_graph()
    repo = defs.get_repository_def()
    return {
        "assets": {
            _key(key): {
                "group": graph.get(key).group_name,
                "upstream": sorted(_key(k) for k in graph.get(key).parent_keys),
            }
            for key in sorted(graph.get_all_asset_keys())
        },
        "checks": sorted(f"{_key(c.asset_key)}:{c.name}" for c in graph.asset_check_keys),
        "jobs": {
            job.name: {"tags": dict(sorted(job.tags.items()))}
            for job in sorted(repo.get_all_jobs(), key=lambda j: j.name)
            if not job.name.startswith("__")  # Dagster's implicit asset job
        },
        "schedules": {
            s.name: {
                "job": s.job_name,
                "cron": s.cron_schedule,
                "timezone": s.execution_timezone,
                "default_status": s.default_status.value,
            }
            for s in sorted(repo.schedule_defs, key=lambda s: s.name)
        },
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def _differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """One line per asset, check, job, ... added, removed or changed: what to look at."""
    lines = []
    for part in sorted(set(expected) | set(actual)):
        old, new = expected.get(part, {}), actual.get(part, {})
        if isinstance(new, list) or isinstance(old, list):
            old, new = dict.fromkeys(old), dict.fromkeys(new)
        lines += [f"{part}: + {name}" for name in sorted(set(new) - set(old))]
        lines += [f"{part}: - {name}" for name in sorted(set(old) - set(new))]
        lines += [
            f"{part}: ~ {name}: {old[name]} -> {new[name]}"
            for name in sorted(set(old) & set(new))
            if old[name] != new[name]
        ]
    return lines


def test_asset_graph_matches_the_snapshot() -> None:
    actual = asset_graph(load_definitions())
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}: create it with `{REGENERATE}`"
    expected = json.loads(SNAPSHOT.read_text())
    differences = _differences(expected, actual)
    assert actual == expected, (
        f"the asset graph differs from {SNAPSHOT.name} ({len(differences)} differences):\n  "
        + "\n  ".join(differences[:40])
        + f"\nIf that is intended, regenerate it with `{REGENERATE}` and commit it."
    )


def test_every_dbt_mart_is_published_and_gated_by_a_mart_suite() -> None:
    """The published marts are dbt's; each must have a GX suite, or it would go live unchecked."""
    graph = load_definitions().resolve_asset_graph()
    published = {k for k in graph.get_all_asset_keys() if k.path[0] == PUBLISHED_DATABASE}
    assert MARTS, "no model found in dbt_project/models/marts/"
    assert published == {AssetKey([PUBLISHED_DATABASE, m]) for m in MARTS}
    for mart, candidate in MARTS.items():
        assert graph.get(AssetKey([PUBLISHED_DATABASE, mart])).parent_keys == {candidate}
    suites = {s.relation for s in mart_suites(CANDIDATE_DATABASE)}
    ungated = sorted(m for m in MARTS if f"{CANDIDATE_DATABASE}.{m}" not in suites)
    assert not ungated, (
        f"dbt marts without a GX mart suite in expectations/suites.py: {ungated}; "
        "mart_suites() must check every mart before publish makes it live"
    )
    checked = {k.asset_key for k in graph.asset_check_keys if k.name.startswith("marts__")}
    assert checked == set(MARTS.values())


def test_one_business_time_zone_and_the_mode_as_a_run_tag() -> None:
    """Schedules fire in the zone dbt cuts periods in; each job carries its mode as a tag."""
    repo = load_definitions().get_repository_def()
    assert {s.execution_timezone for s in repo.schedule_defs} == {business_timezone()}
    assert repo.get_job("incremental").tags[MODE_TAG] == INCREMENTAL
    assert repo.get_job("full_refresh").tags[MODE_TAG] == FULL_REFRESH


class _RecordingDbt(DbtCliResource):
    """Records each dbt command instead of running it."""

    def cli(self, args, **kwargs):  # type: ignore[override]
        recorded.append(["dbt", *args])
        return _NoEvents()


class _NoEvents:
    def stream(self):
        return iter(())


class _NoWarehouse(WarehouseResource):
    @contextmanager
    def client(self) -> Iterator[None]:
        yield None


class _RecordingSession:
    def __init__(self, _store: object) -> None:
        pass

    def http(self, _source: object) -> None:
        return None

    def sync(self, source: str, stream: str, *, full_refresh: bool, since, **_: object) -> Any:
        recorded.append(["sync", f"{source}/{stream}", f"full_refresh={full_refresh}", str(since)])
        return SimpleNamespace(as_metadata=dict)


recorded: list[list[str]] = []


@pytest.mark.parametrize(
    ("tags", "dbt_args", "sync_args"),
    [
        ({MODE_TAG: FULL_REFRESH}, ["--full-refresh"], ["full_refresh=True", "None"]),
        ({MODE_TAG: INCREMENTAL}, [], ["full_refresh=False", "None"]),
        ({SINCE_TAG: "2020-01-01"}, [], ["full_refresh=False", "1577836800.0"]),
    ],
    ids=["full_refresh", "incremental", "backfill"],  # since: 2020-01-01 00:00 UTC, epoch s
)
def test_run_tags_alone_set_the_mode_of_ingest_and_dbt(monkeypatch, tags, dbt_args, sync_args):
    """The jobs' and `funnelhouse run --since`'s tags decide, whatever the ops are called."""
    monkeypatch.setattr(ingest, "SourceSession", _RecordingSession)
    monkeypatch.setattr(ingest, "RawStore", lambda *_: None)
    monkeypatch.setattr(dbt_assets, "unchanged_build", lambda *_, **__: None)  # no warehouse
    calls = AssetKey(["raw", "uis__calls"])
    uis = next(a for a in ingest.ingest_assets() if calls in a.keys)
    recorded.clear()
    result = materialize(
        [uis, dbt_build],
        selection=[calls, AssetKey(["staging", "stg_uis__calls"])],
        resources={"dbt": _RecordingDbt(project_dir=DBT_PROJECT), "warehouse": _NoWarehouse()},
        tags=tags,
    )
    assert result.success
    assert recorded == [
        ["sync", "uis/calls", *sync_args],
        ["dbt", "build", *SCHEDULED_BUILD_ARGS, *dbt_args],
    ]


@pytest.mark.parametrize(
    ("token", "config", "expected"),
    [("", {}, "amoCRM is not configured: set AMOCRM_BASE_URL"),
     ("a-token", {"since": "2020-13-01"}, "--since '2020-13-01': expected a date as YYYY-MM-DD")],
    ids=["settings", "since"],
)  # fmt: skip
def test_what_every_stream_would_fail_on_fails_the_source_once_without_retries(
    monkeypatch, token, config, expected
) -> None:
    """Missing settings or a bad backfill date: one failure naming the fix once (not once per
    stream), before any request, and no retry (it would meet the same)."""
    monkeypatch.setattr(ingest, "RawStore", lambda *_: None)
    monkeypatch.setenv("AMOCRM_BASE_URL", "http://127.0.0.1:9")  # never asked
    monkeypatch.setenv("AMOCRM_TOKEN", token)
    amocrm = next(a for a in ingest.ingest_assets() if AssetKey(["raw", "amocrm__leads"]) in a.keys)
    assert len(amocrm.keys) > 1
    result = materialize(
        [amocrm], resources={"warehouse": _NoWarehouse()}, raise_on_error=False,
        run_config={"ops": {"ingest_amocrm": {"config": config}}},
    )  # fmt: skip
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.event_specific_data.error.to_string().count(expected) == 1
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert not result.get_asset_materialization_events()


class _DefectiveSession(_RecordingSession):
    """The first stream has a defective record, the second loads, the third meets a network
    error."""

    def sync(self, source: str, stream: str, **_: object) -> Any:
        synced = len([r for r in recorded if r[0] == "sync"])
        recorded.append(["sync", f"{source}/{stream}"])
        if synced == 0:
            raise SourceError(source, stream, "a deal without an id", record="id=None")
        if synced == 2:
            raise SourceError(source, stream, "connection reset")
        return SimpleNamespace(as_metadata=dict)


def test_a_defective_record_stops_no_other_stream_and_is_never_retried(monkeypatch) -> None:
    """The next stream still loads; the defect is reported with the network error that
    followed it, and the step is not retried: the defect would come back on every attempt."""
    monkeypatch.setattr(ingest, "SourceSession", _DefectiveSession)
    monkeypatch.setattr(ingest, "RawStore", lambda *_: None)
    amocrm = next(a for a in ingest.ingest_assets() if AssetKey(["raw", "amocrm__leads"]) in a.keys)
    recorded.clear()
    result = materialize([amocrm], resources={"warehouse": _NoWarehouse()}, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.event_specific_data.error.to_string()
    assert "record id=None: a deal without an id" in message and "connection reset" in message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(recorded) == 3
    [loaded] = result.get_asset_materialization_events()
    assert loaded.asset_key.path[-1] == f"amocrm__{recorded[1][1].split('/')[1]}"


def test_jobs_run_sources_side_by_side_each_in_one_step() -> None:
    """What the UI, the schedules and `dagster job execute` launch: the jobs' own executor runs
    steps in parallel, at most one step per `source` op tag; each source loads all its streams
    in one step."""
    repo = load_definitions().get_repository_def()
    for name in ("incremental", "full_refresh"):
        job = repo.get_job(name)
        assert job.executor_def is pipeline_executor
        ingest_steps = {n.name: n for n in job.graph.nodes if n.name.startswith("ingest_")}
        assert set(ingest_steps) == {f"ingest_{s}" for s in SOURCES}
        for source_name, source in SOURCES.items():
            node = ingest_steps[f"ingest_{source_name}"]
            assert node.definition.tags[ingest.SOURCE_OP_TAG] == source_name
            assets = next(a for a in ingest.ingest_assets() if a.node_def.name == node.name)
            assert {k.path[-1] for k in assets.keys} == {s.table for s in source.streams.values()}
    assert PIPELINE_EXECUTOR_CONFIG["max_concurrent"] >= len(SOURCES)
    assert PIPELINE_EXECUTOR_CONFIG["tag_concurrency_limits"] == [
        {"key": ingest.SOURCE_OP_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]


def test_the_code_location_loads_without_gx_and_steps_fork_with_it() -> None:
    """GX costs about 9 s and 200 MB in every process that imports it: the UI's code server
    and a run's own process declare the checks without it; the steps fork from a server that
    preloaded it, so validating steps do not import it each."""
    import subprocess
    import sys

    load_definitions()  # the manifest, parsed here once (the probe would parse it again)
    probe = (
        "import sys; from funnelhouse.orchestration.definitions import defs; "
        "defs.resolve_asset_graph(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'great_expectations'))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "[]"
    preloaded = PIPELINE_EXECUTOR_CONFIG["start_method"]["forkserver"]["preload_modules"]
    assert "great_expectations" in preloaded


BARRIER_TAG = "test/barrier"  # the folder the fake steps meet in (a run tag: no config class,
# which this module's postponed annotations would hide from Dagster)


def _stream(name: str, source: str):
    """A fake ingest step: marks that it started, then waits (event, not time) until a step
    of another source has started too; serial execution would never get there."""

    @asset(name=name, op_tags={ingest.SOURCE_OP_TAG: source})
    def _step(context) -> None:  # postponed annotations: Dagster reads none here
        folder = Path(context.run.tags[BARRIER_TAG])
        (folder / f"{source}.{name}").touch()
        for _ in range(600):
            if any(p.name.split(".")[0] != source for p in folder.iterdir()):
                return
            context.log.info("waiting for a step of another source")
            time.sleep(0.2)
        raise AssertionError(f"{name}: no step of another source started while it ran")

    return _step


def two_sources_job() -> JobDefinition:
    """Two streams of source `a`, one of source `b`, on the pipeline's executor."""
    assets = [_stream("a_one", "a"), _stream("a_two", "a"), _stream("b_one", "b")]
    job = define_asset_job("two_sources", executor_def=pipeline_executor)
    return Definitions(assets=assets, jobs=[job]).resolve_job_def("two_sources")


def test_the_executor_overlaps_two_sources_but_never_two_streams_of_one(
    tmp_path, fresh_forkserver
) -> None:
    recon = build_reconstructable_job(
        "tests.orchestration.test_definitions", "two_sources_job",
        reconstructor_working_directory=str(Path(__file__).parents[2]),
    )  # fmt: skip
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    with instance_for_test() as instance:
        result = execute_job(recon, instance, tags={BARRIER_TAG: str(barrier)})
        assert result.success
        spans: dict[str, list[float]] = {}
        for record in instance.get_records_for_run(result.run_id).records:
            entry = record.event_log_entry
            kind = entry.dagster_event_type
            if kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
                spans.setdefault(entry.step_key or "", []).append(entry.timestamp)
    (a1_start, a1_end), (a2_start, a2_end), (b_start, b_end) = (
        spans["a_one"], spans["a_two"], spans["b_one"]
    )  # fmt: skip
    assert a1_end <= a2_start or a2_end <= a1_start, "two streams of source a overlapped"
    first_a_start, first_a_end = min((a1_start, a1_end), (a2_start, a2_end))
    assert b_start < first_a_end and first_a_start < b_end, "sources a and b ran one by one"


def test_the_dbt_resource_knows_the_dbt_version_without_starting_dbt(monkeypatch) -> None:
    """dagster-dbt would run `dbt --version` in every dbt step's process (5-8 s each); the
    resource answers from the installed package, which must be the executable's version."""
    import subprocess

    import dagster_dbt.core.resource as dbt_resource

    dbt = load_definitions().resources["dbt"]
    reported = subprocess.run(
        [dbt.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    monkeypatch.setattr(dbt_resource, "check_output", _no_subprocess)
    fresh = type(dbt)(project_dir=DBT_PROJECT, dbt_executable=dbt.dbt_executable)
    assert f"installed: {fresh._cli_version}" in reported


def _no_subprocess(*args: object, **kwargs: object) -> bytes:
    raise AssertionError(f"a subprocess was started: {args}")
