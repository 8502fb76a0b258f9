"""One asset per source stream: `raw/<source>__<stream>`, grouped by source.

Streams of one source run one at a time and together stay under the API's rate limit (the
op tag `source`, which the jobs' executor limits to one step per value, and the Dagster pool
`source_<name>` for steps outside those jobs); different sources load in parallel. A source
that fails for good (its host, TLS or credentials) is marked on the run, so its other streams
fail at once without a request, in whatever process they run. (No `from __future__ import
annotations` here: Dagster reads the config and resource annotations at definition time.)
"""

import time
from typing import Optional

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Backoff,
    Config,
    Failure,
    MaterializeResult,
    RetryPolicy,
    asset,
)

from funnelhouse.ingest.http import SourceError, SourceFatal
from funnelhouse.ingest.raw import RawStore
from funnelhouse.ingest.secrets import redact_env
from funnelhouse.ingest.sources import SOURCES, Source, SourceSession
from funnelhouse.ingest.sync import Stream, parse_since
from funnelhouse.orchestration.modes import backfill_since, is_full_refresh
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.progress import progress_message

FATAL_TAG = "funnelhouse/failed_source/"  # + source name: the reason it failed for good
SOURCE_OP_TAG = "source"  # op tag: the executor runs one step per value at a time
PROGRESS_EVERY_SECONDS = 3.0  # how often a step logs its pages and rows for the watchers


class SyncConfig(Config):
    """Per-stream overrides of the run's tags (`modes.MODE_TAG`, `modes.SINCE_TAG`)."""

    # One stream re-read in full (True) or from its cursor (False) whatever the run's mode;
    # None: as the run's mode says.
    full_refresh: Optional[bool] = None  # noqa: UP045
    # YYYY-MM-DD: re-read what changed since then; None: the run's backfill date, if any.
    since: Optional[str] = None  # noqa: UP045


def _failed_earlier(context: AssetExecutionContext, source: Source) -> Optional[str]:  # noqa: UP045
    run = context.instance.get_run_by_id(context.run_id)
    return run.tags.get(FATAL_TAG + source.name) if run else None


def _stream_asset(source: Source, stream: Stream) -> AssetsDefinition:
    @asset(
        name=stream.table,
        key_prefix=["raw"],
        group_name=f"raw_{source.name}",
        pool=f"source_{source.name}",
        kinds={"clickhouse", "python"},
        description=f"{source.title}: {stream.description}. Cursor: {stream.cursor}.",
        tags={"source": source.name},
        op_tags={SOURCE_OP_TAG: source.name},
        retry_policy=RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL),
    )
    def _sync(
        context: AssetExecutionContext, config: SyncConfig, warehouse: WarehouseResource
    ) -> MaterializeResult:
        earlier = _failed_earlier(context, source)
        if earlier:
            raise Failure(description=f"not attempted: {earlier}", allow_retries=False)
        with warehouse.client() as client:
            session = SourceSession(RawStore(client, warehouse.settings().cluster))
            last_logged = [time.monotonic()]

            def progress(_stream: Stream, pages: int, rows: int) -> None:
                if time.monotonic() - last_logged[0] >= PROGRESS_EVERY_SECONDS:
                    context.log.info(progress_message(stream.key, pages, rows))
                    last_logged[0] = time.monotonic()

            try:
                day = config.since or backfill_since(context)
                since = parse_since(day) if day else None
                full = (
                    is_full_refresh(context) if config.full_refresh is None else config.full_refresh
                )
                result = session.sync(
                    source.name, stream.name, full_refresh=full,
                    on_progress=progress, since=since,
                )  # fmt: skip
            except SourceFatal as exc:
                message = redact_env(f"{source.title}: {exc.reason} — {exc.fix}")
                context.instance.add_run_tags(
                    context.run_id, {FATAL_TAG + source.name: f"{stream.key} failed: {message}"}
                )
                raise Failure(description=message, allow_retries=False) from None
            except (ValueError, SourceError) as exc:
                if isinstance(exc, SourceError) and exc.record is None:
                    raise  # the API or the network: worth the retries
                # Settings missing or invalid, or a defective record: a retry meets them again.
                raise Failure(description=redact_env(str(exc)), allow_retries=False) from None
        return MaterializeResult(metadata=result.as_metadata())

    return _sync


def ingest_assets() -> list[AssetsDefinition]:
    return [
        _stream_asset(source, stream)
        for source in SOURCES.values()
        for stream in source.streams.values()
    ]
