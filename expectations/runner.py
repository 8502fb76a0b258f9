"""Validate warehouse tables with Great Expectations, in SQL, and keep the Data Docs.

GX runs through clickhouse-connect's SQLAlchemy dialect against a table asset, so every metric
(null counts, unexpected counts, sample rows) is computed by ClickHouse; no table is pulled into
memory. The password reaches GX only through config substitution from the environment.

Suites are plain data (`Check`) and GX is imported only by the `Validator`: every process that
loads the Dagster code location (the UI's code server, each run and its step processes) reads
the suites to declare asset checks, and importing GX costs about 9 s of each start.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funnelhouse.warehouse.settings import WarehouseSettings

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

log = logging.getLogger(__name__)

_PASSWORD_VAR = "FUNNELHOUSE_GX_CLICKHOUSE_PASSWORD"
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class Check:
    """One expectation: `kind` names a class of `great_expectations.expectations`, `kwargs` its
    arguments; the description is what a failed run reports."""

    kind: str
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_gx(self) -> Expectation:
        import great_expectations.expectations as gxe

        return getattr(gxe, self.kind)(**self.kwargs, description=self.description)


@dataclass(frozen=True)
class TableSuite:
    """Expectations over one relation (a table or view, never a query: see `Validator`).

    `name` is unique in a run (GX's asset, suite and Data Docs page); `check` is the asset
    check's name on the relation, which several relations may share; `name` by default."""

    name: str
    relation: str  # database.table, for humans and asset checks
    expectations: list[Check]
    check: str | None = None

    @property
    def check_name(self) -> str:
        return self.check or self.name


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: Any
    sample: list[Any]
    kwargs: dict[str, Any]

    description: str | None = None

    def describe(self) -> str:
        if self.description:
            detail = (
                f"{self.unexpected_count} unexpected"
                if self.unexpected_count is not None
                else f"observed {self.observed_value}"
            )
            return f"{self.description} ({detail}; sample {self.sample})"
        target = f"{self.column}: " if self.column else ""
        detail = (
            f"{self.unexpected_count} unexpected"
            if self.unexpected_count is not None
            else f"observed {self.observed_value}"
        )
        return f"{target}{self.expectation} ({detail}; sample {self.sample})"


@dataclass
class SuiteOutcome:
    suite: TableSuite
    outcomes: list[ExpectationOutcome]
    seconds: float
    docs_path: Path | None = None
    failures: list[ExpectationOutcome] = field(init=False)

    def __post_init__(self) -> None:
        self.failures = [o for o in self.outcomes if not o.success]

    @property
    def success(self) -> bool:
        return not self.failures


class Validator:
    """One GX context for a run: a SQL data source on the warehouse and a Data Docs site."""

    def __init__(self, settings: WarehouseSettings, docs_dir: Path | None = None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.docs_dir = docs_dir or settings.data_dir / "data_docs"
        self.context = gx.get_context(mode="ephemeral")
        # Runs log to Dagster; per-metric progress bars would only flood the console.
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self.context.add_data_docs_site(
            site_name="funnelhouse",
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(self.docs_dir),
                },
            },
        )
        os.environ[_PASSWORD_VAR] = settings.password.get_secret_value()
        scheme = "clickhousedb"
        protocol = "?protocol=https" if settings.secure else ""
        self.source = self.context.data_sources.add_or_update_sql(
            name="warehouse",
            connection_string=(
                f"{scheme}://{settings.user}:${{{_PASSWORD_VAR}}}@{settings.host}:"
                f"{settings.port}/default{protocol}"
            ),
        )

    def validate(self, suite: TableSuite) -> SuiteOutcome:
        import great_expectations as gx
        from great_expectations.core.expectation_suite import ExpectationSuite

        started = time.monotonic()
        asset = self._asset(suite)
        batch = asset.add_batch_definition_whole_table(f"{suite.name}__all")
        gx_suite = self.context.suites.add_or_update(
            ExpectationSuite(name=suite.name, expectations=[e.to_gx() for e in suite.expectations])
        )
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        checkpoint = self.context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=suite.name,
                validation_definitions=[definition],
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": SAMPLE_ROWS,
                },
            )
        )
        result = checkpoint.run()
        outcomes = [_outcome(r) for run in result.run_results.values() for r in run.results]
        self.source.delete_asset(suite.name)
        return SuiteOutcome(
            suite, outcomes, time.monotonic() - started, self.docs_dir / "index.html"
        )

    def _asset(self, suite: TableSuite) -> Any:
        """A table asset, never a query asset: for a query GX learns the column names by
        running the whole query and fetching every row (GX 1.x, `column_reflection_fallback`),
        which pulled a 550 MB mart into this process at scale 100 and made the mart suites
        6x slower; a table's columns come from the catalogue."""
        schema, table = suite.relation.split(".")
        return self.source.add_table_asset(name=suite.name, table_name=table, schema_name=schema)

    def build_docs(self) -> Path:
        """Render the Data Docs of every suite validated so far, once: rendering per suite
        cost more than the validations themselves (GX compiles its templates on each build)."""
        self.context.build_data_docs(site_names=["funnelhouse"])
        return self.docs_dir / "index.html"


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    unexpected = details.get("unexpected_count")
    if config.type == "unexpected_rows_expectation":  # its observed value is the row count
        unexpected = details.get("observed_value")
    return ExpectationOutcome(
        expectation=config.type,
        column=kwargs.get("column"),
        success=bool(result.success),
        unexpected_count=unexpected,
        unexpected_percent=details.get("unexpected_percent"),
        observed_value=details.get("observed_value"),
        sample=list(details.get("partial_unexpected_list") or [])[:SAMPLE_ROWS],
        kwargs=kwargs,
        description=getattr(config, "description", None),
    )
