"""The suites that gate every run, as code.

Raw suites hold the checks across loads of each raw table (generated from the ingest stream
specs, so they name no source); the checks a record shows on its own are dbt tests on the
staging models. A failed raw suite stops the run before dbt; a failed staging test, before
anything dbt builds on that table, and before any mart suite or publish. Mart suites validate
the candidate marts before they are published: ranges, sums and reconciliations with the
layers below; the marts' not-null, accepted-values and grain checks are dbt tests in
models/marts/*.yml, whose failure fails `dbt_build` and so blocks the publish as well. Every
expectation carries a description: that name is what a failed run reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from funnelhouse.dbt import business_timezone
from funnelhouse.expectations.runner import Check, TableSuite
from funnelhouse.ingest.raw import CONFLICTS_TABLE, CURSORS_TABLE, RAW_DATABASE
from funnelhouse.ingest.sources import SOURCES

EPS = 1e-9  # floating-point slack on upper bounds: a share of 1 may come out 1.0000000000002
RATIO_COLUMNS = {
    "conversion_cohort": ["cohort_conversion_to_date", "conversion_7d", "conversion_30d",
                          "conversion_60d", "conversion_90d", "development_share",
                          "projected_conversion"],
    "conversion_maturation": ["cumulative_conversion"],
    # conversion_to_won is period-based (won this month / created this month) and may pass 1.
    "call_proportions": ["call_share", "talk_share", "revenue_share"],
    "client_value": ["revenue_share", "cumulative_share"],
    "managers_reach": ["reach_rate"],
}  # fmt: skip


def not_null(column: str, what: str) -> Check:
    return Check("ExpectColumnValuesToNotBeNull", f"{what}: {column} present", {"column": column})


def between(column: str, what: str, minimum: float, maximum: float | None = None,
            label: str | None = None) -> Check:  # fmt: skip
    """`column` within [minimum, maximum]; `label` names the range for humans."""
    kwargs: dict[str, object] = {"column": column, "min_value": minimum}
    if maximum is not None:
        kwargs["max_value"] = maximum
    name = label or (f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]")
    return Check("ExpectColumnValuesToBeBetween", f"{what}: {column} {name}", kwargs)


def at_least(column: str, minimum: float, what: str) -> Check:
    return between(column, what, minimum)


def unexpected_rows(description: str, query: str) -> Check:
    """Fails on any row `query` returns; `{batch}` is the validated relation."""
    return Check("UnexpectedRowsExpectation", description, {"unexpected_rows_query": query})


def rows_where(condition: str, description: str, columns: str = "*") -> Check:
    return unexpected_rows(description, f"SELECT {columns} FROM {{batch}} WHERE {condition}")


def total_reconciles(description: str, mart_total: str, source_total_sql: str,
                     tolerance: float = 0):  # fmt: skip
    """A mart's grand total equals the same total computed from the layer it was built from."""
    return unexpected_rows(
        description,
        f"SELECT m.total, s.total FROM (SELECT {mart_total} AS total FROM {{batch}}) AS m "
        f"CROSS JOIN (SELECT ({source_total_sql}) AS total) AS s "
        f"WHERE abs(m.total - s.total) > {tolerance}",
    )


class RawStream(Protocol):
    """What the raw suites read of an ingest stream spec."""

    @property
    def source(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def table(self) -> str: ...  # the raw table
    @property
    def key(self) -> str: ...  # "<source>/<stream>", for humans


def ids_kept(relation: str, previous: int | None):
    """Raw keeps every id it ever loaded (deletions are flags), so its ids never grow fewer.
    Distinct ids, not rows: a version not yet merged away is a second row of its id."""
    return Check(
        "ExpectColumnUniqueValueCountToBeBetween",
        f"{relation}: ids not below the last passed gate's ({previous or 0})",
        {"column": "id", "min_value": previous or 0},
    )


def ids_unique_per_version(stream: RawStream):
    """A page is one snapshot: one id for two different records there is a source defect.
    Ingest keeps such ids in raw._id_conflicts (the raw table itself keeps only one). Records
    without an id (kept under '') are the staging tests' finding (id present), not a clash."""
    last_batch = (
        f"SELECT batch_id FROM {RAW_DATABASE}.{CURSORS_TABLE} FINAL "
        f"WHERE source = '{stream.source}' AND stream = '{stream.name}'"
    )
    # GX wants the query to read {batch}: the raw table is looked up by the conflicting ids
    # (its sort key), not read whole into a set.
    return unexpected_rows(
        f"{stream.key}: ids unique per version in the last load",
        f"WITH conflicts AS (SELECT id, versions, sample FROM {RAW_DATABASE}.{CONFLICTS_TABLE} "
        f"WHERE source = '{stream.source}' AND stream = '{stream.name}' "
        f"AND batch_id IN ({last_batch}) AND id != '') "
        "SELECT id, versions, sample FROM conflicts "
        "WHERE id IN (SELECT id FROM {batch} WHERE id IN (SELECT id FROM conflicts))",
    )


def raw_streams() -> list[RawStream]:
    """Every stream of every source, as ingest declares them."""
    streams: list[RawStream] = []
    for source in SOURCES.values():
        declared = source.streams
        streams += declared.values() if isinstance(declared, Mapping) else declared
    return streams


def raw_suites(previous_counts: dict[str, int] | None = None) -> list[TableSuite]:
    """The cross-load checks of every raw table, generated from the ingest stream specs.

    What a single load cannot show: an id that came twice with different records in the last
    load, and a table that lost ids since the last passed gate. Everything a record shows on
    its own (present ids, ranges, dates, known stages) is a dbt test on its staging model.
    """
    prev = previous_counts or {}
    return [_raw_suite(stream, prev) for stream in raw_streams()]


def _raw_suite(stream: RawStream, previous_counts: dict[str, int]) -> TableSuite:
    relation = f"{RAW_DATABASE}.{stream.table}"
    return TableSuite(
        name=f"{stream.table}__ids_unique_and_kept",
        check="ids_unique_and_kept",
        relation=relation,
        expectations=[
            ids_unique_per_version(stream),
            ids_kept(relation, previous_counts.get(relation)),
        ],
    )


def mart_suites(database: str, business_tz: str | None = None) -> list[TableSuite]:
    business_tz = business_tz or business_timezone()  # the dbt var the marts cut periods by

    def ratios(mart: str) -> list:
        return [
            between(c, mart, 0, 1 + EPS, label="in [0, 1]") for c in RATIO_COLUMNS.get(mart, [])
        ]

    return [
        TableSuite(
            name="marts__conversion_gross",
            relation=f"{database}.conversion_gross",
            expectations=[
                at_least("gross_conversion", 0, "conversion_gross"),
                rows_where(
                    "deals_won > 0 AND revenue_won < 0",
                    "conversion_gross: revenue of won deals is not negative",
                ),
            ],
        ),
        TableSuite(
            name="marts__conversion_cohort",
            relation=f"{database}.conversion_cohort",
            expectations=[
                *ratios("conversion_cohort"),
                rows_where("won_to_date > leads", "conversion_cohort: won_to_date <= leads"),
                at_least("age_days", 0, "conversion_cohort"),
                rows_where(
                    "projected_conversion < cohort_conversion_to_date - 1e-9",
                    "conversion_cohort: projected_conversion not below the to-date value",
                ),
                rows_where(
                    "won_within_7d > won_within_30d OR won_within_30d > won_within_60d "
                    "OR won_within_60d > won_within_90d OR won_within_90d > won_to_date",
                    "conversion_cohort: wins within N days grow with N",
                ),
            ],
        ),
        TableSuite(
            name="marts__conversion_maturation",
            relation=f"{database}.conversion_maturation",
            expectations=[*ratios("conversion_maturation")],
        ),
        TableSuite(
            name="marts__call_load_by_stage",
            relation=f"{database}.call_load_by_stage",
            expectations=[
                rows_where(
                    "answered_calls + missed_calls != calls "
                    "OR inbound_calls + outbound_calls != calls",
                    "call_load_by_stage: answered+missed and inbound+outbound add up to calls",
                ),
                unexpected_rows(
                    description="call_load_by_stage: monthly call totals equal the calls in "
                    "staging (reconciliation)",
                    query=(
                        "SELECT m.period_start, m.calls, s.calls FROM (SELECT period_start, "
                        "sum(calls) AS calls FROM {batch} WHERE period_grain = 'month' AND "
                        "segment_type = 'all' GROUP BY period_start) AS m FULL OUTER JOIN "
                        f"(SELECT toStartOfMonth(toTimeZone(started_at, '{business_tz}')) AS "
                        "period_start, count() AS calls FROM staging.stg_uis__calls GROUP BY "
                        "period_start) AS s ON m.period_start = s.period_start "
                        "WHERE m.calls != s.calls"
                    ),
                ),
            ],
        ),
        TableSuite(
            name="marts__call_proportions",
            relation=f"{database}.call_proportions",
            expectations=[
                *ratios("call_proportions"),
                unexpected_rows(
                    description="call_proportions: call, talk and revenue shares sum to 1 per "
                    "month and segment_type",
                    query=(
                        "SELECT period_start, segment_type FROM {batch} GROUP BY period_start, "
                        "segment_type HAVING (sum(calls) > 0 AND abs(sum(call_share) - 1) > "
                        "1e-6) OR (sum(talk_minutes) > 0 AND abs(sum(talk_share) - 1) > 1e-6) "
                        "OR (sum(revenue_won) > 0 AND abs(sum(revenue_share) - 1) > 1e-6)"
                    ),
                ),
            ],
        ),
        TableSuite(
            name="marts__manager_activity",
            relation=f"{database}.manager_activity",
            expectations=[
                between("activity_index", "manager_activity", 0, 100 + EPS, label="in [0, 100]"),
                at_least("calls", 0, "manager_activity"),
                unexpected_rows(
                    description="manager_activity: activity indexes add up to 100 per period",
                    query=(
                        "SELECT period_grain, period_start FROM {batch} GROUP BY period_grain, "
                        "period_start HAVING sum(points) > 0 AND abs(sum(activity_index) - 100)"
                        " > 1e-6"
                    ),
                ),
            ],
        ),
        TableSuite(
            name="marts__forgotten_deals",
            relation=f"{database}.forgotten_deals",
            expectations=[
                at_least("idle_days", 0, "forgotten_deals"),
                rows_where(
                    "(idle_days >= threshold_days AND idle_days < dead_after_days) != is_forgotten"
                    " OR (idle_days >= dead_after_days) != is_dead",
                    "forgotten_deals: forgotten from threshold_days, dead from dead_after_days",
                ),
            ],
        ),
        TableSuite(
            name="marts__missed_calls",
            relation=f"{database}.missed_calls",
            expectations=[
                at_least("callback_minutes", 0, "missed_calls"),
                between("hour", "missed_calls", 0, 23),
                rows_where(
                    "called_back AND callback_at IS NULL",
                    "missed_calls: a callback has a time",
                ),
            ],
        ),
        TableSuite(
            name="marts__stage_velocity",
            relation=f"{database}.stage_velocity",
            expectations=[
                between("stage_conversion", "stage_velocity", 0, 1 + EPS, label="in [0, 1]"),
                at_least("avg_days_in_stage", 0, "stage_velocity"),
                rows_where("deals_left > deals_entered", "stage_velocity: left <= entered"),
            ],
        ),
        TableSuite(
            name="marts__loss_reasons",
            relation=f"{database}.loss_reasons",
            expectations=[
                at_least("lost_deals", 1, "loss_reasons"),
                not_null("loss_reason", "loss_reasons"),
            ],
        ),
        TableSuite(
            name="marts__plan_fact",
            relation=f"{database}.plan_fact",
            expectations=[
                at_least("revenue_done", 0, "plan_fact"),
                at_least("won_deals", 0, "plan_fact"),
                at_least("earned_bonus", 0, "plan_fact"),
                rows_where(
                    "earned_bonus > 0 AND revenue_done < min_plan_done",
                    "plan_fact: no bonus below the minimum plan completion",
                ),
            ],
        ),
        TableSuite(
            name="marts__forgotten_clients",
            relation=f"{database}.forgotten_clients",
            expectations=[
                at_least("idle_days", 0, "forgotten_clients"),
                rows_where(
                    "never_contacted != (last_communication_at IS NULL) "
                    "OR (is_forgotten AND never_contacted)",
                    "forgotten_clients: a forgotten client was contacted once, a never "
                    "contacted one has no last communication",
                ),
            ],
        ),
        TableSuite(
            name="marts__client_communication",
            relation=f"{database}.client_communication",
            expectations=[
                at_least("communications", 1, "client_communication"),
                rows_where(
                    "communications != calls + meetings + emails",
                    "client_communication: calls, meetings and e-mails add up to communications",
                ),
            ],
        ),
        TableSuite(
            name="marts__client_value",
            relation=f"{database}.client_value",
            expectations=[
                *ratios("client_value"),
                at_least("lifetime_revenue", 0, "client_value"),
                total_reconciles(
                    "client_value: lifetime revenue adds up to the posted, unmarked 1C sales up "
                    "to as_of (reconciliation)",
                    "sum(lifetime_revenue)",
                    "SELECT sum(amount) FROM staging.stg_onec__sales WHERE is_posted AND NOT "
                    "is_deleted AND counterparty_id IS NOT NULL AND document_at <= (SELECT as_of "
                    "FROM intermediate.int_as_of)",
                    tolerance=0.01,
                ),
            ],
        ),
        TableSuite(
            name="marts__managers_reach",
            relation=f"{database}.managers_reach",
            expectations=[
                *ratios("managers_reach"),
                rows_where(
                    "reached_calls + unreached_calls != outbound_calls",
                    "managers_reach: reached and unreached calls add up to outbound calls",
                ),
                total_reconciles(
                    "managers_reach: outbound calls add up to the outbound calls in intermediate "
                    "(reconciliation)",
                    "sum(outbound_calls)",
                    "SELECT count() FROM intermediate.int_calls WHERE direction = 'out'",
                ),
            ],
        ),
        TableSuite(
            name="marts__customer_revenue",
            relation=f"{database}.customer_revenue",
            expectations=[
                at_least("days_won_to_payment", 0, "customer_revenue"),
                at_least("sales_amount", 0, "customer_revenue"),
            ],
        ),
        *_marketing_suites(database, business_tz),
    ]


def _marketing_suites(database: str, business_tz: str) -> list[TableSuite]:
    """leads_by_utm and product_revenue (issue 18): bounded ratios, and totals that reconcile
    with the deals in intermediate."""
    month = f"toStartOfMonth(toTimeZone({{ts}}, '{business_tz}'))"
    created = (
        f"SELECT {month.format(ts='created_at')} AS p, count() AS leads, "
        "countIf(won_at IS NOT NULL) AS won FROM intermediate.int_deals WHERE is_deleted = 0 "
        "GROUP BY p"
    )
    won = (
        f"SELECT {month.format(ts='assumeNotNull(won_at)')} AS p, sum(amount) AS revenue, "
        "sumIf(amount, deal_id IN (SELECT deal_id FROM intermediate.int_deal_products)) AS "
        "with_products FROM intermediate.int_deals WHERE is_deleted = 0 AND won_at IS NOT NULL "
        "GROUP BY p"
    )
    return [
        TableSuite(
            name="marts__leads_by_utm",
            relation=f"{database}.leads_by_utm",
            expectations=[
                between("conversion", "leads_by_utm", 0, 1 + EPS, label="in [0, 1]"),
                rows_where("deals_won > leads", "leads_by_utm: deals_won <= leads"),
                unexpected_rows(
                    description="leads_by_utm: each tag's values add up to all leads and wins "
                    "of every month (reconciliation with intermediate)",
                    query=(
                        "SELECT t.tag, s.p, m.leads, s.leads FROM (SELECT DISTINCT tag FROM "
                        f"{{batch}}) AS t CROSS JOIN ({created}) AS s LEFT JOIN (SELECT tag, "
                        "period_start, sum(leads) AS leads, sum(deals_won) AS won FROM {batch} "
                        "GROUP BY tag, period_start) AS m ON m.tag = t.tag AND "
                        "m.period_start = s.p WHERE m.leads != s.leads OR m.won != s.won"
                    ),
                ),
            ],
        ),
        TableSuite(
            name="marts__product_revenue",
            relation=f"{database}.product_revenue",
            expectations=[
                at_least("revenue_won", 0, "product_revenue"),
                at_least("deals_won", 1, "product_revenue"),
                unexpected_rows(
                    description="product_revenue: a month's revenue over products equals the "
                    "won revenue of its deals with products, and with '(none)' all won revenue "
                    "(reconciliation with intermediate)",
                    query=(
                        "SELECT s.p, m.revenue, s.revenue FROM (" + won + ") AS s LEFT JOIN "
                        "(SELECT period_start, sum(revenue_won) AS revenue, sumIf(revenue_won, "
                        "product != '(none)') AS with_products FROM {batch} GROUP BY "
                        "period_start) AS m ON m.period_start = s.p WHERE "
                        "abs(m.revenue - s.revenue) > 1 OR abs(m.with_products - s.with_products)"
                        " > 1"
                    ),
                ),
            ],
        ),
    ]
