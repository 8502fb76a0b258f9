"""Every mart on a hand-written company, against values computed by hand (golden_data.py)."""

from __future__ import annotations

import shutil

import pytest

from funnelhouse.dbt import DBT_PROJECT_DIR
from tests.dbt import golden_data as g
from tests.dbt.conftest import dbt_build, load_golden, reset_pipeline


@pytest.fixture(scope="module")
def marts(warehouse, tmp_path_factory):
    store = reset_pipeline(warehouse)
    project = tmp_path_factory.mktemp("dbt") / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "seeds" / "manager_plans.csv").write_text(g.PLANS)
    load_golden(store)
    dbt_build(warehouse, "--vars", f'{{"as_of": "{g.AS_OF}"}}', project_dir=project)

    def query(sql: str) -> list[tuple]:
        return store.client.query(sql).result_rows

    query.rebuild = lambda: dbt_build(  # type: ignore[attr-defined]
        warehouse, "--vars", f'{{"as_of": "{g.AS_OF}"}}', project_dir=project
    )
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
        ("(none)", "(no deal)", 2, 1, 1, 1, 1, 30, 0),  # C4 missed, C9 the callback
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
        ("unknown", 2, 0.5, pytest.approx(2 / 6), pytest.approx(0.05), 0, 0, 0, 0, None, None),
        (
            "Сайт",
            4,
            9.5,
            pytest.approx(4 / 6),
            pytest.approx(0.95),
            2,
            1,
            100_000,
            1.0,
            0.5,
            pytest.approx(0.95),
        ),
        ("Холодный обзвон", 0, 0, 0, 0, 1, 0, 0, 0, 0.0, None),
    ]


def test_manager_activity(marts):
    rows = marts(
        "SELECT toString(period_start), manager, calls, talk_minutes, meetings, points, "
        "activity_index FROM marts_candidate.manager_activity WHERE period_grain = 'month' "
        "AND period_start IN ('2026-01-01', '2026-02-01') ORDER BY period_start, manager"
    )
    approx = pytest.approx
    assert rows == [
        # January: Анна answered C1-C3, C5, C9 (10 talk minutes); C4 was missed by nobody.
        ("2026-01-01", "unknown", 1, 0, 0, 1, approx(12.5)),
        ("2026-01-01", "Анна Петрова", 5, approx(10), 0, approx(7), approx(87.5)),
        # February: Борис met L4's client (5 points), Анна had C6 and C7 (2 + 5 min × 0.2).
        ("2026-02-01", "Анна Петрова", 2, approx(5), 0, approx(3), approx(37.5)),
        ("2026-02-01", "Борис Орлов", 0, 0, 1, approx(5), approx(62.5)),
    ]


def test_forgotten_deals(marts):
    rows = marts(
        "SELECT deal_id, kind, stage, round(idle_days, 2), is_forgotten, amount_at_stake "
        "FROM marts_candidate.forgotten_deals ORDER BY deal_id"
    )
    assert rows == [
        # as_of is 04-15 00:00 UTC; 10:00 Moscow time is 07:00 UTC.
        ("amocrm:10", "lead", "Новая", 41.71, True, 1000),  # created 03-04 10:00 MSK
        ("amocrm:11", "lead", "Новая", 1.62, False, 1000),  # 1 d 15 h since the 04-13 call
        ("amocrm:4", "lead", "Новая", 69.71, True, 80_000),  # last touch: the 02-04 meeting
        ("amocrm:5", "deal", "Квалификация", 62.71, True, 30_000),  # moved on 02-11 10:00
        ("amocrm:8", "lead", "Новая", 43.71, True, 1000),
        ("amocrm:9", "lead", "Новая", 42.71, True, 1000),
    ]


def test_missed_calls(marts):
    rows = marts(
        "SELECT call_id, hour, weekday, is_weekend, is_evening, called_back, callback_minutes, "
        "callback_by FROM marts_candidate.missed_calls"
    )
    # C4 rang on Friday 2026-01-16 at 20:00 Moscow time; C9 called back 30 minutes later.
    assert rows == [("uis:1004", 20, 5, False, True, True, 30.0, "Анна Петрова")]


def test_stage_velocity(marts):
    rows = marts(
        "SELECT deals_entered, deals_left, moved_to_won, moved_to_lost, moved_forward, "
        "round(avg_days_in_stage, 4), median_days_in_stage, stage_conversion "
        "FROM marts_candidate.stage_velocity WHERE pipeline = 'Продажи' "
        "AND stage = 'Квалификация' AND period_start = '2026-01-01'"
    )
    # L1 stayed 4 d 2 h, L2 7 d (then lost), L3 39 d 1 h (then won).
    avg = round((4 + 2 / 24 + 7 + 39 + 1 / 24) / 3, 4)
    assert rows == [(3, 3, 2, 1, 0, avg, 7.0, pytest.approx(2 / 3))]
    cycle = marts(
        "SELECT toString(period_start), deals_entered, avg_days_in_stage FROM "
        "marts_candidate.stage_velocity WHERE stage = '(cycle to won)' AND pipeline = 'Продажи' "
        "ORDER BY period_start"
    )
    assert cycle == [
        ("2026-01-01", 1, pytest.approx(5 + 2 / 24)),  # L1
        ("2026-02-01", 1, pytest.approx(1.0)),  # L6
        ("2026-03-01", 1, pytest.approx(40 + 1 / 24)),  # L3
    ]


def test_loss_reasons(marts):
    rows = marts(
        "SELECT toString(period_start), pipeline, lost_at_stage, loss_reason, manager, "
        "lost_deals, lost_amount FROM marts_candidate.loss_reasons"
    )
    assert rows == [("2026-01-01", "Продажи", "Квалификация", "Дорого", "Анна Петрова", 1, 50_000)]


def test_plan_fact(marts):
    rows = marts(
        "SELECT manager, toString(period_start), plan_revenue, plan_deals, won_revenue, "
        "won_deals, revenue_done, deals_done FROM marts_candidate.plan_fact "
        "ORDER BY period_start, manager"
    )
    assert rows == [
        ("Анна Петрова", "2026-01-01", 150_000, 2, 100_000, 1, pytest.approx(2 / 3), 0.5),
        ("Борис Орлов", "2026-01-01", 300_000, 1, 0, 0, 0.0, 0.0),
        ("Борис Орлов", "2026-02-01", None, None, 60_000, 1, None, None),  # L6, no plan
        ("Вера Смирнова", "2026-02-01", None, None, 70_000, 1, None, None),  # B1
        ("Борис Орлов", "2026-03-01", None, None, 200_000, 1, None, None),  # L3
    ]


def test_customer_revenue(marts):
    rows = marts(
        "SELECT customer_name, toString(period_start), sales_amount, payments_amount, "
        "customer_status, round(days_won_to_payment, 3), is_churned, crm_company_id "
        "FROM marts_candidate.customer_revenue ORDER BY customer_name, period_start"
    )
    # L1 (company 3001, INN of K1) was won on 01-10 09:00 UTC; K1 paid on 01-25 00:00 MSK.
    to_money = round(14 + 12 / 24, 3)
    assert rows == [
        ("ИП Василёк", "2025-10-01", 5_000, 0, "new", None, True, None),
        ("ООО Лютик", "2025-06-01", 10_000, 0, "new", None, False, None),
        ("ООО Лютик", "2026-01-01", 20_000, 0, "reactivated", None, False, None),
        ("ООО Ромашка", "2026-01-01", 100_000, 100_000, "new", to_money, False, "amocrm:3001"),
        ("ООО Ромашка", "2026-02-01", 50_000, 0, "repeat", to_money, False, "amocrm:3001"),
    ]


def test_rebuild_of_unchanged_data_gives_identical_marts(marts):
    tables = [r[0] for r in marts("SELECT name FROM system.tables WHERE database = "
                                  "'marts_candidate' ORDER BY name")]  # fmt: skip
    assert len(tables) == 12

    def fingerprint() -> dict[str, tuple]:
        return {
            t: marts(f"SELECT count(), sum(cityHash64(*)) FROM marts_candidate.{t}")[0]
            for t in tables
        }

    before = fingerprint()
    marts.rebuild()  # int_calls runs incrementally the second time
    assert fingerprint() == before
