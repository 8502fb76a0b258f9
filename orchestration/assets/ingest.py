"""One asset per source stream (`raw/<source>__<stream>`, grouped by source), one step per source.

A source's streams load in turn in one step, under one rate limiter and one session: a
source that fails for good (its host, TLS or credentials) stops there, without a request for
its other streams. Different sources load in parallel (the jobs' executor runs steps side by
side; the op tag `source` and the Dagster pool `source_<name>` keep two steps of one source,
from two runs or a selection, apart). One step per source rather than per stream: a step's
process costs about 1.5 s to start, which 26 streams paid on every hourly run. The step is
subsettable: selecting one stream's asset loads that stream alone. (No `from __future__
import annotations` here: Dagster reads the config and resource annotations at definition
time.)
"""

import time
from collections.abc import Iterator
from typing import Optional

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Backoff,
    Config,
    Failure,
    MaterializeResult,
    RetryPolicy,
    multi_asset,
)

from funnelhouse.ingest.http import SourceError, SourceFatal
from funnelhouse.ingest.raw import RawStore
from funnelhouse.ingest.secrets import redact_env
from funnelhouse.ingest.sources import SOURCES, Source, SourceSession
from funnelhouse.ingest.sync import Stream, parse_since
from funnelhouse.orchestration.modes import backfill_since, is_full_refresh
from funnelhouse.orchestration.resources import WarehouseResource
from funnelhouse.progress import INGEST_STEP_PREFIX, progress_message

SOURCE_OP_TAG = "source"  # op tag: the executor runs one step per value at a time
PROGRESS_EVERY_SECONDS = 3.0  # how often a step logs its pages and rows for the watchers


class SyncConfig(Config):
    """Overrides of the run's tags (`modes.MODE_TAG`, `modes.SINCE_TAG`) for the streams of
    this source the run selected."""

    # Re-read in full (True) or from the cursors (False) whatever the run's mode; None: as the
    # run's mode says.
    full_refresh: Optional[bool] = None  # noqa: UP045
    # YYYY-MM-DD: re-read what changed since then; None: the run's backfill date, if any.
    since: Optional[str] = None  # noqa: UP045


def step_name(source: Source) -> str:
    """The op (and step) that loads a source: `ingest_<source>`, which the progress display
    reads as the source's name."""
    return f"{INGEST_STEP_PREFIX}{source.name}"


def stream_key(stream: Stream) -> AssetKey:
    return AssetKey(["raw", stream.table])


def _source_asset(source: Source) -> AssetsDefinition:
    streams = list(source.streams.values())

    @multi_asset(
        name=step_name(source),
        specs=[
            AssetSpec(
                key=stream_key(stream),
                group_name=f"raw_{source.name}",
                kinds={"clickhouse", "python"},
                description=f"{source.title}: {stream.description}. Cursor: {stream.cursor}.",
                tags={"source": source.name},
            )
            for stream in streams
        ],
        can_subset=True,
        pool=f"source_{source.name}",
        op_tags={SOURCE_OP_TAG: source.name},
        retry_policy=RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL),
        description=f"{source.title}: the selected streams in turn, under one rate limit.",
    )
    def _sync(
        context: AssetExecutionContext, config: SyncConfig, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        full = is_full_refresh(context) if config.full_refresh is None else config.full_refresh
        defects: list[str] = []  # streams whose records a retry would meet again
        with warehouse.client() as client:
            session = SourceSession(RawStore(client, warehouse.settings().cluster))
            try:  # what every stream would fail on alike, and a retry too: fail once, now
                day = config.since or backfill_since(context)
                since = parse_since(day) if day else None
                session.http(source)  # the source's settings, missing or invalid
            except ValueError as exc:
                raise _no_retry(redact_env(str(exc))) from None
            for stream in streams:
                if stream_key(stream) not in context.selected_asset_keys:
                    continue
                try:
                    result = session.sync(
                        source.name, stream.name, full_refresh=full,
                        on_progress=_progress_logger(context), since=since,
                    )  # fmt: skip
                except SourceFatal as exc:
                    message = redact_env(f"{source.title}: {exc.reason} — {exc.fix}")
                    raise _no_retry(*defects, message) from None
                except (ValueError, SourceError) as exc:
                    if isinstance(exc, SourceError) and exc.record is None:
                        if not defects:
                            raise  # the API or the network: worth the retries (of the source)
                        # A retry would meet the defects found already again.
                        raise _no_retry(*defects, redact_env(str(exc))) from None
                    # A defective record: a retry meets it again. The other streams still
                    # load; the step fails after them, naming each.
                    defects.append(redact_env(str(exc)))
                    context.log.error(defects[-1])
                    continue
                yield MaterializeResult(asset_key=stream_key(stream),
                                        metadata=result.as_metadata())  # fmt: skip
        if defects:
            raise _no_retry(*defects)

    return _sync


def _no_retry(*messages: str) -> Failure:
    """The step's failure when a retry would meet the same: each cause on its own line."""
    return Failure(description="\n".join(messages), allow_retries=False)


def _progress_logger(context: AssetExecutionContext):
    """Logs a stream's pages and rows every few seconds, for the watchers of the run."""
    last_logged = [time.monotonic()]

    def progress(stream: Stream, pages: int, rows: int) -> None:
        if time.monotonic() - last_logged[0] >= PROGRESS_EVERY_SECONDS:
            context.log.info(progress_message(stream.key, pages, rows))
            last_logged[0] = time.monotonic()

    return progress


def ingest_assets() -> list[AssetsDefinition]:
    """One subsettable step per source, an asset per stream."""
    return [_source_asset(source) for source in SOURCES.values()]
