"""One asset per source stream: `raw/<source>__<stream>`, grouped by source.

Streams of one source share a Dagster pool, so they run one at a time and together stay under
the API's rate limit; different sources load in parallel. (No `from __future__ import
annotations` here: Dagster reads the config and resource annotations at definition time.)
"""

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

from funnelhouse.ingest.http import SourceError
from funnelhouse.ingest.raw import RawStore
from funnelhouse.ingest.sources import SOURCES, Source, SourceSession
from funnelhouse.ingest.sync import Stream
from funnelhouse.orchestration.resources import WarehouseResource


class SyncConfig(Config):
    full_refresh: bool = False


def _stream_asset(source: Source, stream: Stream) -> AssetsDefinition:
    @asset(
        name=stream.table,
        key_prefix=["raw"],
        group_name=f"raw_{source.name}",
        pool=f"source_{source.name}",
        kinds={"clickhouse", "python"},
        description=f"{source.title}: {stream.description}. Cursor: {stream.cursor}.",
        tags={"source": source.name},
        retry_policy=RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL),
    )
    def _sync(
        context: AssetExecutionContext, config: SyncConfig, warehouse: WarehouseResource
    ) -> MaterializeResult:
        with warehouse.client() as client:
            session = SourceSession(RawStore(client, warehouse.settings().cluster))
            last_logged = [0]

            def progress(_stream: Stream, pages: int, rows: int) -> None:
                if rows - last_logged[0] >= 50_000:
                    context.log.info(f"{stream.key}: {pages} pages, {rows} rows so far")
                    last_logged[0] = rows

            try:
                result = session.sync(
                    source.name, stream.name, full_refresh=config.full_refresh,
                    on_progress=progress,
                )  # fmt: skip
            except (ValueError, SourceError) as exc:
                if isinstance(exc, SourceError) and exc.record is None:
                    raise  # the API or the network: worth the retries
                # Settings missing or invalid, or a defective record: a retry meets them again.
                raise Failure(description=str(exc), allow_retries=False) from exc
        return MaterializeResult(metadata=result.as_metadata())

    return _sync


def ingest_assets() -> list[AssetsDefinition]:
    return [
        _stream_asset(source, stream)
        for source in SOURCES.values()
        for stream in source.streams.values()
    ]
