"""`funnelhouse sources check`: one cheap authenticated request per source, before a run.

It answers "will the next run be able to read this source?" in seconds, and says what to
change when not: the same classification as a sync (bad host, TLS, refused credentials).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from funnelhouse.ingest.http import SourceError, SourceFatal
from funnelhouse.ingest.sources import SOURCES, Source

OK, FAILED, UNCONFIGURED = "ok", "failed", "not configured"


@dataclass(frozen=True)
class CheckResult:
    source: str
    title: str
    status: str  # OK, FAILED or UNCONFIGURED
    detail: str  # what answered, or what went wrong
    fix: str = ""  # what to change, when known


def check_source(source: Source) -> CheckResult:
    """Connect to `source` as configured by the environment; never raises for its failures."""
    try:
        settings = source.settings_cls()
        http = source.module.http_source(settings)
    except ValidationError as exc:
        return CheckResult(source.name, source.title, FAILED, _settings_error(source, exc))
    except ValueError as exc:
        return CheckResult(source.name, source.title, UNCONFIGURED, str(exc))
    # A check should answer in seconds: a few quick retries for a transient hiccup, not the
    # ten minutes a sync may spend waiting out an overloaded API.
    http.max_attempts, http.max_retry_seconds, http.backoff_max = 3, 30.0, 5.0
    http.timeout = (10.0, 30.0)
    try:
        detail = source.module.probe(http, settings)
    except SourceFatal as exc:
        return CheckResult(source.name, source.title, FAILED, exc.reason, exc.fix)
    except SourceError as exc:
        return CheckResult(source.name, source.title, FAILED, exc.detail,
                           "check the source's status and the settings named above")  # fmt: skip
    return CheckResult(source.name, source.title, OK, detail)


def check_all(names: list[str] | None = None) -> list[CheckResult]:
    return [check_source(SOURCES[name]) for name in names or list(SOURCES)]


def _settings_error(source: Source, exc: ValidationError) -> str:
    """Which variable holds an invalid value, without echoing the value (it may be secret)."""
    prefix = source.settings_cls.model_config.get("env_prefix", "")
    fields = ", ".join(f"{prefix}{'.'.join(map(str, e['loc'])).upper()}" for e in exc.errors())
    return f"invalid setting {fields}"
