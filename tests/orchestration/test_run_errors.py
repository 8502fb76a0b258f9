"""A failed run names what failed in the connector's own words, not Dagster's wrapper."""

from __future__ import annotations

from dagster import job, op

from funnelhouse.ingest.http import SourceError
from funnelhouse.orchestration.run import _root_cause


@op
def load_sales() -> None:
    raise SourceError("onec", "sales", "returned an object without Ref_Key", record="Number='1'")


@job
def failing() -> None:
    load_sales()


def test_step_failure_reports_the_source_error():
    result = failing.execute_in_process(raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error = failure.event_specific_data.error
    assert "SourceError" not in error.message  # Dagster's wrapper hides it...
    assert _root_cause(error) == (  # ...the report does not
        "funnelhouse.ingest.http.SourceError: onec/sales record Number='1': "
        "returned an object without Ref_Key"
    )
