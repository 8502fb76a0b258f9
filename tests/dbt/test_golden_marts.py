"""Every mart on a hand-written company, against values computed by hand (golden_data.py)."""

from __future__ import annotations

import pytest

from funnelhouse.dbt import DBT_PROJECT_DIR
from tests.dbt import golden_data as g
from tests.dbt.conftest import dbt_build, golden_project, load_golden, reset_pipeline

pytestmark = pytest.mark.slow  # builds every mart


@pytest.fixture(scope="module")
def marts(warehouse, tmp_path_factory):
    store = reset_pipeline(warehouse)
    project = golden_project(tmp_path_factory)
    load_golden(store)
    built = dbt_build(warehouse, "--vars", g.VARS, project_dir=project)

    def query(sql: str) -> list[tuple]:
        return store.client.query(sql).result_rows

    query.rebuild = lambda: dbt_build(  # type: ignore[attr-defined]
        warehouse, "--vars", g.VARS, project_dir=project
    )
    query.unit_tests = {  # type: ignore[attr-defined]
        r.node.name: str(r.status) for r in built.result if r.node.resource_type == "unit_test"
    }
    return query


def test_the_dbt_unit_tests_the_hourly_build_leaves_out_run_and_pass_here(marts):
    """The scheduled build excludes unit tests (SCHEDULED_BUILD_ARGS): this is where they run."""
    assert marts.unit_tests, "dbt ran no unit test"
    assert set(marts.unit_tests.values()) == {"pass"}, marts.unit_tests


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
    # C7 (Bitrix24); C6, and C10 whose CRM link names deleted L7: L5's phone finds L5.
    assert feb == [("Общая", "Новая", 1), ("Продажи", "Квалификация", 2)]
    managers = marts(
        "SELECT segment_type, segment_value, sum(calls), sum(talk_seconds) "
        "FROM marts_candidate.call_load_by_stage WHERE period_grain = 'month' "
        "AND period_start = '2026-01-01' AND segment_type IN ('manager', 'deal_manager') "
        "GROUP BY segment_type, segment_value ORDER BY segment_type, segment_value"
    )
    assert managers == [
        ("deal_manager", "(none)", 2, 30),  # C4, C9: no deal
        ("deal_manager", "Анна Петрова", 4, 570),  # C1-C3 on L1, C5 on L2
        # UIS says "Петрова  анна": the conformed name is the CRM's, and C9 is hers too.
        ("manager", "unknown", 1, 0),  # C4 rang nobody
        ("manager", "Анна Петрова", 5, 600),
    ]


def test_managers_are_conformed_and_the_unmatched_listed(marts):
    rows = marts(
        "SELECT system, person_id, person_name, manager, match FROM intermediate.int_managers "
        "ORDER BY system, person_id"
    )
    assert rows == [
        ("amocrm", "amocrm:501", "Анна Петрова", "Анна Петрова", "crm_user"),
        ("amocrm", "amocrm:502", "Борис Орлов", "Борис Орлов", "crm_user"),
        ("bitrix24", "bitrix24:1", "Вера Смирнова", "Вера Смирнова", "crm_user"),
        ("uis", "uis:1", "Петрова  анна", "Анна Петрова", "name"),
        ("uis", "uis:3", "В. Смирнова", "Вера Смирнова", "alias"),
        ("uis", "uis:9", "Сидоров Пётр", "Сидоров Пётр", "unmatched"),
    ]


def test_a_crm_link_to_a_deleted_deal_falls_back_to_the_phone(marts):
    rows = marts(
        "SELECT deal_id, attribution, stage, manager, deal_manager FROM intermediate.int_calls "
        "WHERE call_id = 'uis:1010'"
    )
    assert rows == [("amocrm:5", "phone", "Квалификация", "Сидоров Пётр", "Анна Петрова")]


def test_call_proportions(marts):
    rows = marts(
        "SELECT segment_value, calls, talk_minutes, call_share, talk_share, deals_created, "
        "deals_won, revenue_won, revenue_share, conversion_to_won, effort_to_revenue "
        "FROM marts_candidate.call_proportions WHERE period_start = '2026-01-01' "
        "AND segment_type = 'source' ORDER BY segment_value"
    )
    assert rows == [
        # C4 and C9 have no deal, so no source: '(none)', where a deal without one is 'unknown'.
        ("(none)", 2, 0.5, pytest.approx(2 / 6), pytest.approx(0.05), 0, 0, 0, 0, None, None),
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
    managers = marts(
        "SELECT segment_value, calls, talk_minutes, deals_created, deals_won, revenue_won, "
        "effort_to_revenue FROM marts_candidate.call_proportions WHERE "
        "period_start = '2026-01-01' AND segment_type = 'manager' ORDER BY segment_value"
    )
    # One Анна: her calls (as the PBX's operator) and her wins (as the CRM's responsible).
    assert managers == [
        ("unknown", 1, 0, 0, 0, 0, None),  # C4
        ("Анна Петрова", 5, 10.0, 2, 1, 100_000, 1.0),  # L1, L2 created; L1 won
        ("Борис Орлов", 0, 0, 1, 0, 0, None),  # L3 created
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
        # February: Борис met L4's client (5 points), Анна had C6 (1 + 10/3 min × 0.2), Вера
        # C7 (1 + 5/3 min × 0.2), Сидоров, whom no CRM user matches, C10 (1 + 0.75 min × 0.2).
        ("2026-02-01", "Анна Петрова", 1, approx(10 / 3), 0, approx(5 / 3), approx(500 / 27.45)),
        ("2026-02-01", "Борис Орлов", 0, 0, 1, approx(5), approx(500 / 9.15)),
        ("2026-02-01", "Вера Смирнова", 1, approx(5 / 3), 0, approx(4 / 3), approx(400 / 27.45)),
        ("2026-02-01", "Сидоров Пётр", 1, approx(0.75), 0, approx(1.15), approx(115 / 9.15)),
    ]


def test_forgotten_deals(marts):
    rows = marts(
        "SELECT deal_id, kind, stage, idle_days, idle_status, is_forgotten, is_dead, "
        "amount_at_stake FROM marts_candidate.forgotten_deals ORDER BY deal_id"
    )
    # as_of is 04-15 00:00 UTC; 10:00 Moscow time is 07:00 UTC; whole days; dead_days = 60.
    assert rows == [
        ("amocrm:10", "lead", "Новая", 41, "forgotten", True, False, 1000),  # created 03-04
        ("amocrm:11", "lead", "Новая", 1, "active", False, False, 1000),  # called 04-13 12:00
        ("amocrm:4", "lead", "Новая", 69, "dead", False, True, 80_000),  # 02-04 meeting
        ("amocrm:5", "deal", "Квалификация", 52, "forgotten", True, False, 30_000),  # C10
        ("amocrm:8", "lead", "Новая", 43, "forgotten", True, False, 1000),
        ("amocrm:9", "lead", "Новая", 42, "forgotten", True, False, 1000),
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
        "won_deals, revenue_done, deals_done, min_plan_done, earned_bonus "
        "FROM marts_candidate.plan_fact ORDER BY period_start, manager"
    )
    assert rows == [
        # Анна falls under the `*` rule: 67 % done >= 50 %, so 1 deal × 1 000 + 2 whole
        # steps of 50 000 × 2 000; Борис has his own rule and is below its 90 %.
        ("Анна Петрова", "2026-01-01", 150_000, 2, 100_000, 1, pytest.approx(2 / 3), 0.5,
         0.5, 5_000),
        ("Борис Орлов", "2026-01-01", 300_000, 1, 0, 0, 0.0, 0.0, 0.9, 0),
        ("Борис Орлов", "2026-02-01", None, None, 60_000, 1, None, None, 0.9, None),  # no plan
        ("Вера Смирнова", "2026-02-01", None, None, 70_000, 1, None, None, 0.5, None),  # B1
        ("Борис Орлов", "2026-03-01", None, None, 200_000, 1, None, None, 0.9, None),  # L3
    ]  # fmt: skip


def test_customer_revenue(marts):
    rows = marts(
        "SELECT customer_name, toString(period_start), sales_amount, payments_amount, "
        "customer_status, round(days_won_to_payment, 3), is_churned, crm_company_id "
        "FROM marts_candidate.customer_revenue ORDER BY customer_name, period_start"
    )
    # L1 (company 3001, INN of K1) was won on 01-10 09:00 UTC; K1 paid on 01-25 00:00 MSK.
    to_money = round(14 + 12 / 24, 3)
    # churn_months = 3: a client churns in the 4th month after its last sale without one.
    assert rows == [
        ("ИП Василёк", "2025-10-01", 5_000, 0, "new", None, True, None),
        ("ИП Василёк", "2026-02-01", 0, 0, "churned", None, True, None),
        ("ООО Лютик", "2025-06-01", 10_000, 0, "new", None, False, None),
        ("ООО Лютик", "2025-10-01", 0, 0, "churned", None, False, None),
        ("ООО Лютик", "2026-01-01", 20_000, 0, "reactivated", None, False, None),
        ("ООО Ромашка", "2026-01-01", 100_000, 100_000, "new", to_money, False, "amocrm:3001"),
        ("ООО Ромашка", "2026-02-01", 50_000, 0, "repeat", to_money, False, "amocrm:3001"),
    ]


def test_rebuild_of_unchanged_data_gives_identical_marts(marts):
    tables = [r[0] for r in marts("SELECT name FROM system.tables WHERE database = "
                                  "'marts_candidate' ORDER BY name")]  # fmt: skip
    assert len(tables) == len(list((DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")))

    def fingerprint() -> dict[str, tuple]:
        return {
            t: marts(f"SELECT count(), sum(cityHash64(tuple(*))) FROM marts_candidate.{t}")[0]
            for t in tables
        }

    before = fingerprint()
    marts.rebuild()  # int_calls runs incrementally the second time
    assert fingerprint() == before


def test_every_mart_column_carries_its_description_as_a_comment(marts):
    """BI tools show ClickHouse comments: dbt's docs are persisted into every mart column."""
    missing = marts(
        "SELECT table, name FROM system.columns WHERE database = 'marts_candidate' "
        "AND comment = '' ORDER BY table, name"
    )
    assert missing == []
    tables = marts(
        "SELECT name FROM system.tables WHERE database = 'marts_candidate' AND comment = ''"
    )
    assert tables == []


def test_forgotten_clients(marts):
    rows = marts(
        "SELECT client_key, client_name, manager, communications, toString(last_communication_at),"
        " last_channel, last_manager, idle_days, never_contacted, is_forgotten, went_silent "
        "FROM marts_candidate.forgotten_clients ORDER BY client_key"
    )
    # as_of 04-15 00:00 UTC. L1's company heard C1-C3 (the last on 01-15 07:00 UTC); L2's
    # contact C5 by phone; L5's contact C10 by phone, which Сидоров answered. Silent: talked
    # to in January (one active month, a golden var) and not in February, March or April.
    assert rows == [
        ("company|amocrm:3001", "ООО Ромашка", "Анна Петрова", 3, "2026-01-15 07:00:00.000",
         "call", "Анна Петрова", 89, False, True, True),
        ("company|amocrm:3002", "ООО Тишина", "unknown", 0, None, "", "", None, True, False,
         False),
        ("contact|amocrm:9002", "Клиент L2", "Анна Петрова", 1, "2026-01-14 09:00:00.000",
         "call", "Анна Петрова", 90, False, True, True),
        ("contact|amocrm:9005", "Клиент L5", "Анна Петрова", 1, "2026-02-21 07:00:00.000",
         "call", "Сидоров Пётр", 52, False, False, False),
    ]  # fmt: skip


def test_client_communication(marts):
    rows = marts(
        "SELECT client_key, toString(period_start), manager, communications, calls, "
        "talk_minutes, meetings FROM marts_candidate.client_communication "
        "ORDER BY client_key, period_start"
    )
    assert rows == [
        ("company|amocrm:3001", "2026-01-01", "Анна Петрова", 3, 3, 4.5, 0),  # C1-C3 on L1
        ("contact|amocrm:9002", "2026-01-01", "Анна Петрова", 1, 1, 5.0, 0),  # C5
        ("contact|amocrm:9005", "2026-02-01", "Сидоров Пётр", 1, 1, 0.75, 0),  # C10
    ]


def test_client_value(marts):
    rows = marts(
        "SELECT customer_name, lifetime_revenue, lifetime_payments, sales_documents, "
        "average_sale, months_with_sales, ltv_rank, revenue_share, cumulative_share, "
        "acquisition_source FROM marts_candidate.client_value ORDER BY ltv_rank"
    )
    approx = pytest.approx
    # The deleted (999 999) and the unposted (1) sale of K1 do not count.
    assert rows == [
        ("ООО Ромашка", 150_000, 100_000, 2, 75_000, 2, 1, approx(150 / 185), approx(150 / 185),
         "Сайт"),  # INN of L1's company
        ("ООО Лютик", 30_000, 0, 2, 15_000, 2, 2, approx(30 / 185), approx(180 / 185), "unknown"),
        ("ИП Василёк", 5_000, 0, 1, 5_000, 1, 3, approx(5 / 185), approx(1.0), "unknown"),
    ]  # fmt: skip


def test_managers_reach(marts):
    rows = marts(
        "SELECT toString(week_start), outbound_calls, reached_calls, unreached_calls, "
        "reach_rate, round(activity_index, 2), activity_trend, is_burning_out "
        "FROM marts_candidate.managers_reach WHERE manager = 'Анна Петрова' "
        "AND outbound_calls > 0 ORDER BY week_start"
    )
    assert rows == [
        ("2026-01-05", 1, 1, 0, 1.0, 100.0, None, False),  # C1 (and C2 in: 2.6 of 2.6 points)
        ("2026-01-12", 2, 2, 0, 1.0, round(100 * 4.4 / 5.4, 2), None, False),  # C3, C9; C4 rang
        # C6 (1 + 10/3 min × 0.2 points) beside Сидоров's C10 (1.15 points)
        ("2026-02-16", 1, 1, 0, 1.0, round(100 * (5 / 3) / (5 / 3 + 1.15), 2), None, False),
        ("2026-04-13", 1, 1, 0, 1.0, 100.0, None, False),  # C8
    ]


def test_leads_by_utm(marts):
    def tag(name: str) -> list[tuple]:
        return marts(
            "SELECT toString(period_start), tag_value, leads, deals_won, revenue_won, conversion "
            f"FROM marts_candidate.leads_by_utm WHERE tag = '{name}' "
            "ORDER BY period_start, tag_value"
        )

    # January: L1, L2 (yandex), L3 (no tags); L1 won in January, L3 in March: both count for
    # their January cohort. February: L4 (google, empty medium), L5, L6 (none), B1 (vk); L7 is
    # deleted. March: L8..L11 without tags.
    assert tag("utm_source") == [
        ("2026-01-01", "(none)", 1, 1, 200_000, 1.0),
        ("2026-01-01", "yandex", 2, 1, 100_000, 0.5),
        ("2026-02-01", "(none)", 2, 1, 60_000, 0.5),
        ("2026-02-01", "google", 1, 0, 0, 0.0),  # trimmed
        ("2026-02-01", "vk", 1, 1, 70_000, 1.0),
        ("2026-03-01", "(none)", 4, 0, 0, 0.0),
    ]
    assert tag("combination") == [
        ("2026-01-01", "(none)", 1, 1, 200_000, 1.0),
        ("2026-01-01", "yandex / cpc / brand", 2, 1, 100_000, 0.5),
        ("2026-02-01", "(none)", 2, 1, 60_000, 0.5),
        ("2026-02-01", "google / (none) / (none)", 1, 0, 0, 0.0),
        ("2026-02-01", "vk / cpc / spring", 1, 1, 70_000, 1.0),
        ("2026-03-01", "(none)", 4, 0, 0, 0.0),
    ]
    feb = [r[1:4] for r in tag("utm_medium") if r[0] == "2026-02-01"]
    assert feb == [("(none)", 3, 1), ("cpc", 1, 1)]  # an empty medium is no medium
    assert [r[1:4] for r in tag("utm_term") if r[0] == "2026-01-01"] == [
        ("(none)", 2, 1),
        ("внедрение crm", 1, 1),
    ]
    assert [r[1:3] for r in tag("utm_content") if r[0] == "2026-02-01"] == [
        ("(none)", 3),
        ("banner_a", 1),
    ]
    # Every tag's values add up to the leads of conversion_gross's month.
    sums = marts(
        "SELECT tag, toString(period_start), sum(leads) FROM marts_candidate.leads_by_utm "
        "GROUP BY tag, period_start ORDER BY tag, period_start"
    )
    assert {(t, p): n for t, p, n in sums} == {
        (t, p): n
        for t in ("combination", "utm_campaign", "utm_content", "utm_medium", "utm_source",
                  "utm_term")
        for p, n in (("2026-01-01", 3), ("2026-02-01", 4), ("2026-03-01", 4))
    }  # fmt: skip


def test_product_revenue(marts):
    rows = marts(
        "SELECT toString(period_start), source, product, deals_won, quantity, revenue_won "
        "FROM marts_candidate.product_revenue ORDER BY period_start, source, product"
    )
    assert rows == [
        # L1: 100 000 split by its links' list amounts 60 000 (E1 ×1) and 20 000 (E2 ×2 at the
        # price field the link names; E1's other price field is not used).
        ("2026-01-01", "Сайт", "Лицензия", 1, 1, 75_000),
        ("2026-01-01", "Сайт", "Настройка", 1, 2, 25_000),
        ("2026-02-01", "Партнёры", "(none)", 1, 0, 60_000),  # L6 has no products
        # B1's deal rows add up to its 70 000; the lead's row is not the deal's.
        ("2026-02-01", "Сайт", "Курс", 1, 1, 50_000),
        ("2026-02-01", "Сайт", "Материалы", 1, 2, 20_000),
        ("2026-03-01", "Холодный обзвон", "Лицензия", 1, 2, 200_000),
    ]
    # A month's revenue over sources and products is conversion_gross's revenue_won.
    assert marts(
        "SELECT toString(period_start), sum(revenue_won) FROM marts_candidate.product_revenue "
        "GROUP BY period_start ORDER BY period_start"
    ) == [("2026-01-01", 100_000), ("2026-02-01", 130_000), ("2026-03-01", 200_000)]


def test_marketing_suites_pass_and_catch_what_does_not_reconcile(marts, warehouse, tmp_path):
    """The GX suites of leads_by_utm and product_revenue pass on the golden marts; a copy with
    one lead too many under one tag, or revenue no deal brought, fails them."""
    from funnelhouse.expectations.runner import Validator
    from funnelhouse.expectations.suites import mart_suites

    validator = Validator(warehouse, tmp_path / "docs")
    names = ("marts__leads_by_utm", "marts__product_revenue")

    def outcomes(database: str) -> dict[str, list[str]]:
        suites = [s for s in mart_suites(database) if s.name in names]
        return {s.name: [f.describe() for f in validator.validate(s).failures] for s in suites}

    assert outcomes("marts_candidate") == {name: [] for name in names}
    marts("CREATE DATABASE IF NOT EXISTS gx_marketing")
    for mart in ("leads_by_utm", "product_revenue"):
        marts(f"DROP TABLE IF EXISTS gx_marketing.{mart}")
        marts(f"CREATE TABLE gx_marketing.{mart} ENGINE = MergeTree ORDER BY tuple() "
              f"AS SELECT * FROM marts_candidate.{mart}")  # fmt: skip
    marts("INSERT INTO gx_marketing.leads_by_utm SELECT '2026-02-01', 'utm_term', 'x', 1, 0, 0, 0")
    marts(
        "INSERT INTO gx_marketing.product_revenue SELECT '2026-01-01', 'Сайт', 'Лицензия', 1, 1, "
        "5000"
    )
    broken = outcomes("gx_marketing")
    marts("DROP DATABASE gx_marketing")
    assert [len(f) for f in broken.values()] == [1, 1], broken
    assert "reconciliation" in broken["marts__leads_by_utm"][0]
    assert "reconciliation" in broken["marts__product_revenue"][0]
