"""The suites that gate every run, as code.

Raw suites read the raw layer through the staging models (so a field is parsed in one place,
the staging model) and stop the run before any mart is built. Mart suites validate the
candidate marts before they are published. Every expectation carries a description: that
name is what a failed run reports.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from funnelhouse.dbt import business_timezone
from funnelhouse.expectations.runner import TableSuite

EARLIEST = "2000-01-01"
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


def _named(expectation, description: str):
    expectation.description = description
    return expectation


def not_null(column: str, what: str):
    return _named(gxe.ExpectColumnValuesToNotBeNull(column=column), f"{what}: {column} present")


def at_least(column: str, minimum: float, what: str):
    return _named(
        gxe.ExpectColumnValuesToBeBetween(column=column, min_value=minimum),
        f"{what}: {column} >= {minimum}",
    )


def in_set(column: str, values: list, what: str):
    return _named(
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values),
        f"{what}: {column} in {values}",
    )


def rows_where(condition: str, description: str, columns: str = "*"):
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=f"SELECT {columns} FROM {{batch}} WHERE {condition}",
        description=description,
    )


def not_in_future(column: str, what: str, loaded: str = "loaded_at"):
    """A time after the load itself is a broken clock or a defect, whatever the time zone.
    Models without a load time compare with now() (`loaded="now()"`)."""
    until = "its load time" if loaded == "loaded_at" else "now"
    return rows_where(
        f"{column} > {loaded} + INTERVAL 1 DAY OR {column} < '{EARLIEST}'",
        f"{what}: {column} between {EARLIEST} and {until}",
    )


def total_reconciles(description: str, mart_total: str, source_total_sql: str,
                     tolerance: float = 0):  # fmt: skip
    """A mart's grand total equals the same total computed from the layer it was built from."""
    return gxe.UnexpectedRowsExpectation(
        description=description,
        unexpected_rows_query=(
            f"SELECT m.total, s.total FROM (SELECT {mart_total} AS total FROM {{batch}}) AS m "
            f"CROSS JOIN (SELECT ({source_total_sql}) AS total) AS s "
            f"WHERE abs(m.total - s.total) > {tolerance}"
        ),
    )


def id_present(source_id: str, what: str):
    """For models whose ids carry a system prefix: `source_id` strips it back off."""
    return rows_where(f"{source_id} = ''", f"{what}: id present")


def valid_inn(column: str, what: str):
    """A Russian INN has 10 digits (organisation) or 12 (individual); the CRM↔1C link uses it.
    Staging keeps only the digits of what the source holds, so the length tells."""
    return rows_where(
        f"{column} IS NOT NULL AND length({column}) NOT IN (10, 12)",
        f"{what}: {column} has 10 or 12 digits",
    )


def in_order(earlier: str, later: str, what: str):
    """A record does not change or end before it began. This sees a shifted time that still
    lies in the past (a creation time a year late), which `not_in_future` cannot."""
    return rows_where(f"{earlier} > {later}", f"{what}: {earlier} not after {later}")


def known_stage(column: str, directory: str, what: str):
    return rows_where(
        f"{column} NOT IN (SELECT stage_key FROM {directory})",
        f"{what}: {column} known to the stage directory",
    )


def row_count_kept(relation: str, previous: int | None):
    """Raw keeps every id it ever loaded (deletions are flags), so counts never shrink."""
    return _named(
        gxe.ExpectTableRowCountToBeBetween(min_value=previous or 0),
        f"{relation}: row count not below the previous load ({previous or 0})",
    )


def ids_unique_per_version(source: str, stream: str, id_column: str):
    """A page is one snapshot: one id for two different records there is a source defect.
    Ingest keeps such ids in raw._id_conflicts (the raw table itself keeps only one)."""
    last_batch = (
        f"SELECT batch_id FROM raw._cursors FINAL WHERE source = '{source}' AND stream = '{stream}'"
    )
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            f"SELECT id, versions, sample FROM raw._id_conflicts WHERE source = '{source}' "
            f"AND stream = '{stream}' AND batch_id IN ({last_batch}) "
            f"AND id IN (SELECT {id_column} FROM {{batch}})"
        ),
        description=f"{source}/{stream}: ids unique per version in the last load",
    )


def raw_suites(previous_counts: dict[str, int] | None = None) -> list[TableSuite]:
    prev = previous_counts or {}

    def suite(
        relation: str,
        id_column: str,
        what: str,
        *expectations,
        stream: str | None = None,
        raw_id: str | None = None,
        kept: bool = True,
    ) -> TableSuite:
        """The suite of the raw stream behind a staging model (`stg_<source>__<stream>` unless
        `stream` says otherwise). `raw_id`: the id as raw spells it, where staging changed it;
        `kept=False` where staging drops deleted records, so the count may fall."""
        name = relation.split(".")[-1]
        source, stream_name = (stream or name.removeprefix("stg_").replace("__", "/")).split("/")
        return TableSuite(
            name=f"raw__{name}",
            relation=relation,
            expectations=[
                not_null(id_column, what),
                *expectations,
                ids_unique_per_version(source, stream_name, raw_id or id_column),
                *([row_count_kept(relation, prev.get(relation))] if kept else []),
            ],
        )

    def entity(
        relation: str, stream: str, id_column: str, what: str, *expectations, kept: bool = True
    ) -> TableSuite:
        """A stream that feeds a dimension or a directory: its staging ids carry a system
        prefix, which `source_id` strips to match raw."""
        source_id = f"replaceRegexpOne(toString({id_column}), '^[a-z0-9]+:([a-z]+:)?', '')"
        return suite(relation, id_column, what, id_present(source_id, what), *expectations,
                     stream=stream, raw_id=source_id, kept=kept)  # fmt: skip

    def directory(relation: str, what: str, kinds: list[str]) -> TableSuite:
        """The stage directory of a CRM (its pipelines with their stages, a few dozen rows),
        which the stage checks of leads, deals and stage moves rely on."""
        return TableSuite(
            name=f"raw__{relation.split('.')[-1]}",
            relation=relation,
            expectations=[
                not_null("pipeline_id", what),
                not_null("stage_name", what),
                in_set("stage_kind", kinds, what),
                rows_where(
                    "stage_key IN (SELECT stage_key FROM {batch} GROUP BY stage_key "
                    "HAVING count() > 1)",
                    f"{what}: stage_key unique",
                ),
                rows_where(
                    "pipeline_id NOT IN (SELECT pipeline_id FROM {batch} WHERE stage_kind = 'won')",
                    f"{what}: every pipeline has a won stage",
                ),
            ],
        )

    return [
        directory(
            "staging.stg_amocrm__pipelines", "amoCRM pipelines", ["open", "won", "lost", "unsorted"]
        ),
        entity("staging.stg_amocrm__users", "amocrm/users", "manager_id", "amoCRM user"),
        entity(
            "staging.stg_amocrm__contacts",
            "amocrm/contacts",
            "contact_id",
            "amoCRM contact",
            kept=False,
        ),
        entity(
            "staging.stg_amocrm__companies",
            "amocrm/companies",
            "company_id",
            "amoCRM company",
            valid_inn("inn", "amoCRM company"),
            kept=False,
        ),
        entity(
            "staging.stg_amocrm__tasks",
            "amocrm/tasks",
            "task_id",
            "amoCRM task",
            not_in_future("created_at", "amoCRM task", loaded="now()"),
            kept=False,
        ),
        entity(
            "staging.stg_amocrm__loss_reasons",
            "amocrm/loss_reasons",
            "loss_reason_id",
            "amoCRM loss reason",
        ),
        directory(
            "staging.int_bitrix24__stages", "Bitrix24 funnels and stages", ["open", "won", "lost"]
        ),
        entity(
            "staging.stg_bitrix24__activities",
            "bitrix24/activities",
            "activity_id",
            "Bitrix24 activity",
            not_in_future("created_at", "Bitrix24 activity", loaded="now()"),
            kept=False,
        ),
        entity("staging.stg_bitrix24__users", "bitrix24/users", "manager_id", "Bitrix24 user"),
        entity(
            "staging.stg_bitrix24__product_rows",
            "bitrix24/product_rows",
            "product_row_id",
            "Bitrix24 product row",
            at_least("quantity", 0, "Bitrix24 product row"),
            at_least("price", 0, "Bitrix24 product row"),
        ),
        entity(
            "staging.stg_amocrm__catalog_elements",
            "amocrm/catalog_elements",
            "element_id",
            "amoCRM catalogue element",
        ),
        entity(
            "staging.stg_bitrix24__contacts",
            "bitrix24/contacts",
            "contact_id",
            "Bitrix24 contact",
            kept=False,
        ),
        entity(
            "staging.stg_bitrix24__companies",
            "bitrix24/companies",
            "company_id",
            "Bitrix24 company",
            valid_inn("inn", "Bitrix24 company"),
            kept=False,
        ),
        entity(
            "staging.stg_onec__counterparties",
            "onec/counterparties",
            "counterparty_id",
            "1C counterparty",
            valid_inn("inn", "1C counterparty"),
        ),
        entity(
            "staging.stg_onec__contracts",
            "onec/contracts",
            "contract_id",
            "1C contract",
            not_in_future("signed_at", "1C contract", loaded="now()"),
        ),
        suite(
            "staging.stg_uis__calls",
            "telephony_call_id",
            "UIS call",
            not_in_future("started_at", "UIS call"),
            in_order("started_at", "finished_at", "UIS call"),
            at_least("talk_seconds", 0, "UIS call"),
            at_least("wait_seconds", 0, "UIS call"),
            in_set("direction", ["in", "out"], "UIS call"),
        ),
        suite(
            "staging.stg_amocrm__leads",
            "source_deal_id",
            "amoCRM lead",
            not_in_future("created_at", "amoCRM lead"),
            in_order("created_at", "updated_at", "amoCRM lead"),
            at_least("amount", 0, "amoCRM lead"),
            known_stage("stage_key", "staging.stg_amocrm__pipelines", "amoCRM lead"),
        ),
        suite(
            "staging.stg_amocrm__status_changes",
            "source_event_id",
            "amoCRM stage change",
            not_in_future("changed_at", "amoCRM stage change"),
            known_stage("stage_key_after", "staging.stg_amocrm__pipelines", "amoCRM stage change"),
        ),
        suite(
            "staging.stg_amocrm__call_notes",
            "source_note_id",
            "amoCRM call note",
            at_least("duration_seconds", 0, "amoCRM call note"),
            not_in_future("created_at", "amoCRM call note"),
        ),
        suite(
            "staging.stg_bitrix24__deals",
            "source_deal_id",
            "Bitrix24 deal",
            not_in_future("created_at", "Bitrix24 deal"),
            in_order("created_at", "updated_at", "Bitrix24 deal"),
            at_least("amount", 0, "Bitrix24 deal"),
            known_stage("stage_key", "staging.int_bitrix24__stages", "Bitrix24 deal"),
        ),
        suite(
            "staging.stg_bitrix24__stage_history",
            "source_event_id",
            "Bitrix24 stage move",
            not_in_future("changed_at", "Bitrix24 stage move"),
            known_stage("stage_key", "staging.int_bitrix24__stages", "Bitrix24 stage move"),
        ),
        suite(
            "staging.stg_bitrix24__calls",
            "source_call_id",
            "Bitrix24 call",
            at_least("duration_seconds", 0, "Bitrix24 call"),
            not_in_future("started_at", "Bitrix24 call"),
        ),
        suite(
            "staging.stg_onec__sales",
            "source_sale_id",
            "1C sale",
            not_in_future("document_at", "1C sale"),
        ),
        suite(
            "staging.stg_onec__payments",
            "source_payment_id",
            "1C payment",
            not_in_future("document_at", "1C payment"),
        ),
    ]


def mart_suites(database: str, business_tz: str | None = None) -> list[TableSuite]:
    business_tz = business_tz or business_timezone()  # the dbt var the marts cut periods by

    def ratios(mart: str) -> list:
        return [
            _named(
                gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1 + EPS),
                f"{mart}: {c} in [0, 1]",
            )
            for c in RATIO_COLUMNS.get(mart, [])
        ]

    return [
        TableSuite(
            name="marts__conversion_gross",
            relation=f"{database}.conversion_gross",
            expectations=[
                not_null("segment_value", "conversion_gross"),
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
                not_null("stage", "call_load_by_stage"),
                rows_where(
                    "answered_calls + missed_calls != calls "
                    "OR inbound_calls + outbound_calls != calls",
                    "call_load_by_stage: answered+missed and inbound+outbound add up to calls",
                ),
                gxe.UnexpectedRowsExpectation(
                    description="call_load_by_stage: monthly call totals equal the calls in "
                    "staging (reconciliation)",
                    unexpected_rows_query=(
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
                gxe.UnexpectedRowsExpectation(
                    description="call_proportions: call, talk and revenue shares sum to 1 per "
                    "month and segment_type",
                    unexpected_rows_query=(
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
                _named(
                    gxe.ExpectColumnValuesToBeBetween(
                        column="activity_index", min_value=0, max_value=100 + EPS
                    ),
                    "manager_activity: activity_index in [0, 100]",
                ),
                at_least("calls", 0, "manager_activity"),
                gxe.UnexpectedRowsExpectation(
                    description="manager_activity: activity indexes add up to 100 per period",
                    unexpected_rows_query=(
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
                in_set("kind", ["lead", "deal"], "forgotten_deals"),
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
                _named(
                    gxe.ExpectColumnValuesToBeBetween(column="hour", min_value=0, max_value=23),
                    "missed_calls: hour in [0, 23]",
                ),
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
                _named(
                    gxe.ExpectColumnValuesToBeBetween(
                        column="stage_conversion", min_value=0, max_value=1 + EPS
                    ),
                    "stage_velocity: stage_conversion in [0, 1]",
                ),
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
                in_set(
                    "customer_status",
                    ["new", "repeat", "reactivated", "churned", "payment only"],
                    "customer_revenue",
                ),
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
                _named(
                    gxe.ExpectColumnValuesToBeBetween(
                        column="conversion", min_value=0, max_value=1 + EPS
                    ),
                    "leads_by_utm: conversion in [0, 1]",
                ),
                not_null("tag_value", "leads_by_utm"),
                rows_where("deals_won > leads", "leads_by_utm: deals_won <= leads"),
                gxe.UnexpectedRowsExpectation(
                    description="leads_by_utm: each tag's values add up to all leads and wins "
                    "of every month (reconciliation with intermediate)",
                    unexpected_rows_query=(
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
                not_null("product", "product_revenue"),
                gxe.UnexpectedRowsExpectation(
                    description="product_revenue: a month's revenue over products equals the "
                    "won revenue of its deals with products, and with '(none)' all won revenue "
                    "(reconciliation with intermediate)",
                    unexpected_rows_query=(
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
