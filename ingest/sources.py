"""The source systems funnelhouse reads, and one call to sync any of their streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from pydantic_settings import BaseSettings

from funnelhouse.ingest import amocrm, bitrix24, onec, uis
from funnelhouse.ingest.http import HttpSource, SourceFatal
from funnelhouse.ingest.raw import RawStore
from funnelhouse.ingest.sync import Stream, SyncResult, run_sync


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    module: ModuleType
    settings_cls: type[BaseSettings]

    @property
    def streams(self) -> dict[str, Stream]:
        return self.module.STREAMS


SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source("amocrm", "amoCRM", amocrm, amocrm.AmoCrmSettings),
        Source("bitrix24", "Bitrix24", bitrix24, bitrix24.Bitrix24Settings),
        Source("uis", "UIS telephony", uis, uis.UisSettings),
        Source("onec", "1C accounting", onec, onec.OneCSettings),
    ]
}


class SourceSession:
    """One run's connections: a stream of a source shares the source's rate limiter, and a
    source that failed for good (bad host, TLS, credentials) is not asked again."""

    def __init__(self, store: RawStore, settings: dict[str, BaseSettings] | None = None):
        self.store = store
        self.settings = settings or {}
        self._http: dict[str, HttpSource] = {}
        self.fatal: dict[str, SourceFatal] = {}

    def settings_for(self, source: Source) -> BaseSettings:
        if source.name not in self.settings:
            self.settings[source.name] = source.settings_cls()
        return self.settings[source.name]

    def http(self, source: Source) -> HttpSource:
        if source.name not in self._http:
            self._http[source.name] = source.module.http_source(self.settings_for(source))
        return self._http[source.name]

    def sync(
        self,
        source_name: str,
        stream_name: str,
        *,
        full_refresh: bool = False,
        on_progress: Callable[[Stream, int, int], None] | None = None,
        since: float | None = None,
    ) -> SyncResult:
        """Sync one stream; raises SourceFatal at once, without a request, for every stream
        of a source that already failed that way in this session."""
        if source_name in self.fatal:
            raise self.fatal[source_name].for_stream(stream_name)
        source = SOURCES[source_name]
        stream = source.streams[stream_name]
        http = self.http(source)
        before = http.stats.as_metadata()
        extract = source.module.extractor(stream, self.settings_for(source), http, self.store)
        try:
            result = run_sync(self.store, stream, extract, full_refresh=full_refresh,
                              on_progress=on_progress, since=since)  # fmt: skip
        except SourceFatal as exc:
            self.fatal[source_name] = exc
            raise
        after = http.stats.as_metadata()
        result.http = {
            k: round(after[k] - before[k], 2) for k in ("requests", "retries", "throttled_seconds")
        }
        return result
