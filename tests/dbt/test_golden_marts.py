"""Every mart on a hand-written company, against values computed by hand (golden_data.py)."""

from __future__ import annotations

import pytest

from tests.dbt import golden_data as g
from tests.dbt.conftest import dbt_build, load, reset_pipeline


@pytest.fixture(scope="module")
def marts(warehouse):
    store = reset_pipeline(warehouse)
    load(store, "amocrm__leads", g.LEADS, "id", "updated_at", lambda r: r["is_deleted"])
    load(store, "amocrm__status_changes", g.EVENTS, "id", "created_at")
    load(store, "amocrm__pipelines", g.PIPELINES, "id")
    load(store, "amocrm__users", [{"id": k, "name": v} for k, v in g.USERS.items()], "id")
    load(store, "amocrm__call_notes", g.NOTES, "id", "updated_at")
    load(store, "amocrm__contacts", g.CONTACTS, "id")
    load(store, "uis__calls", g.CALLS, "id", "start_time")
    load(store, "bitrix24__deals", g.B24_DEALS, "ID", "DATE_MODIFY")
    load(store, "bitrix24__stage_history", g.B24_HISTORY, "ID", "ID")
    load(store, "bitrix24__stages", g.B24_STATUSES, "ID")
    load(store, "bitrix24__categories", g.B24_CATEGORIES, "id")
    load(store, "bitrix24__users", g.B24_USERS, "ID")
    load(store, "bitrix24__calls", g.B24_CALLS, "ID", "ID")
    load(store, "bitrix24__activities", g.B24_ACTIVITIES, "ID")
    dbt_build(warehouse, "--vars", f'{{"as_of": "{g.AS_OF}"}}')

    def query(sql: str) -> list[tuple]:
        return store.client.query(sql).result_rows

    return query


def test_conversion_gross(marts):
    rows = marts(
        "SELECT toString(period_start), leads_created, deals_won, revenue_won, gross_conversion "
        "FROM marts_candidate.conversion_gross "
        "WHERE period_grain = 'month' AND segment_type = 'all' ORDER BY period_start"
    )
    assert rows == [
        ("2026-01-01", 3, 1, 100_000, pytest.approx(1 / 3)),
        ("2026-02-01", 4, 2, 130_000, 0.5),  # L4, L5, L6, B1 (L7 is deleted); L6 and B1 won
        ("2026-03-01", 4, 1, 200_000, 0.25),  # L3, created in January, won on 03-01
    ]
    anna = marts(
        "SELECT toString(period_start), leads_created, deals_won FROM "
        "marts_candidate.conversion_gross WHERE period_grain = 'month' "
        "AND segment_type = 'manager' AND segment_value = 'Анна Петрова' ORDER BY period_start"
    )
    assert anna == [("2026-01-01", 2, 1), ("2026-02-01", 1, 0), ("2026-03-01", 4, 0)]
    # A day with a win and no new lead: the ratio is NULL, never 0 or an error.
    day = marts(
        "SELECT leads_created, deals_won, gross_conversion FROM marts_candidate.conversion_gross "
        "WHERE period_grain = 'day' AND period_start = '2026-01-10' AND segment_type = 'all'"
    )
    assert day == [(0, 1, None)]
    unknown_rating = marts(
        "SELECT leads_created, deals_won FROM marts_candidate.conversion_gross WHERE "
        "period_grain = 'month' AND period_start = '2026-02-01' AND segment_type = 'rating' "
        "AND segment_value = 'unknown'"
    )
    assert unknown_rating == [(1, 1)]  # L6 has no rating


def test_conversion_cohort(marts):
    rows = marts(
        "SELECT toString(cohort_start), leads, won_to_date, age_days, won_within_7d, "
        "won_within_30d, won_within_60d, won_within_90d, conversion_7d, conversion_30d, "
        "conversion_60d, conversion_90d, projected_conversion FROM "
        "marts_candidate.conversion_cohort WHERE cohort_grain = 'month' AND segment_type = 'all' "
        "ORDER BY cohort_start"
    )
    third = pytest.approx(1 / 3)
    assert rows == [
        # L1 won after 5 days, L3 after 40: mature for 60 days (Jan 31 21:00 UTC + 60 d < as_of)
        ("2026-01-01", 3, 2, 74, 1, 1, 2, 2, third, third, pytest.approx(2 / 3), None, None),
        # L6 after 1 day, B1 after 4; 60 days have not passed since the end of February
        ("2026-02-01", 4, 2, 46, 2, 2, 2, 2, 0.5, 0.5, None, None, None),
        ("2026-03-01", 4, 0, 15, 0, 0, 0, 0, 0.0, None, None, None, None),
    ]


def test_conversion_maturation(marts):
    curve = dict(
        marts(
            "SELECT days_since_created, cumulative_won FROM "
            "marts_candidate.conversion_maturation WHERE cohort_start = '2026-01-01' "
            "AND segment_type = 'all'"
        )
    )
    assert (curve[0], curve[4], curve[5], curve[39], curve[40]) == (0, 0, 1, 1, 2)
    march = marts(
        "SELECT max(days_since_created), any(leads) FROM marts_candidate.conversion_maturation "
        "WHERE cohort_start = '2026-03-01' AND segment_type = 'all'"
    )
    assert march == [(14, 4)]  # only the days all March leads have lived through by as_of


def test_call_load_by_stage(marts):
    rows = marts(
        "SELECT pipeline, stage, calls, inbound_calls, outbound_calls, answered_calls, "
        "missed_calls, talk_seconds, deals_touched FROM marts_candidate.call_load_by_stage "
        "WHERE period_grain = 'month' AND period_start = '2026-01-01' AND segment_type = 'all' "
        "ORDER BY pipeline, stage"
    )
    assert rows == [
        ("(none)", "(no deal)", 1, 1, 0, 0, 1, 0, 0),  # C4: unknown number, missed
        ("Продажи", "before deal", 1, 0, 1, 1, 0, 60, 1),  # C1, half an hour before L1
        ("Продажи", "Квалификация", 2, 2, 0, 2, 0, 420, 2),  # C2 (note), C5 (L2's phone)
        ("Продажи", "Успешно реализовано", 1, 0, 1, 1, 0, 90, 1),  # C3 after L1's win
    ]
    feb = marts(
        "SELECT pipeline, stage, calls FROM marts_candidate.call_load_by_stage WHERE "
        "period_grain = 'month' AND period_start = '2026-02-01' AND segment_type = 'all' "
        "ORDER BY pipeline"
    )
    assert feb == [("Общая", "Новая", 1), ("Продажи", "Квалификация", 1)]  # C7 Bitrix24, C6


def test_call_proportions(marts):
    rows = marts(
        "SELECT segment_value, calls, talk_minutes, call_share, talk_share, deals_created, "
        "deals_won, revenue_won, revenue_share, conversion_to_won, effort_to_revenue "
        "FROM marts_candidate.call_proportions WHERE period_start = '2026-01-01' "
        "AND segment_type = 'source' ORDER BY segment_value"
    )
    assert rows == [
        ("unknown", 1, 0, 0.2, 0, 0, 0, 0, 0, None, None),
        ("Сайт", 4, 9.5, 0.8, 1.0, 2, 1, 100_000, 1.0, 0.5, 1.0),
        ("Холодный обзвон", 0, 0, 0, 0, 1, 0, 0, 0, 0.0, None),
    ]
