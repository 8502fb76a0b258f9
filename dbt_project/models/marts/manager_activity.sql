{{ config(engine='MergeTree()', order_by='(period_grain, period_start, manager)') }}
-- Calls, talk time, meetings, e-mails and tasks per manager and period, and an activity index:
-- 100 × the manager's points / the company's points in the period (points per activity are
-- the `activity_points` var), so the managers of a period add up to 100.
{% set pts = var('activity_points') %}
-- Aggregated once per manager and local day, then rolled up into weeks and months: each
-- activity is grouped once instead of three times; the deals worked roll up as uniqExact
-- states of a 64-bit hash of the deal id, so they are exact at every grain but for two deals
-- sharing a hash (as in call_load_by_stage).
with daily as (
    select
        {{ period_start('a.happened_at', 'day') }} as day,
        a.manager as manager,
        countIf(a.activity_type = 'call') as calls,
        countIf(a.activity_type = 'call' and a.is_answered) as answered_calls,
        sumIf(a.talk_seconds, a.activity_type = 'call') as talk_seconds,
        countIf(a.activity_type = 'meeting') as meetings,
        countIf(a.activity_type = 'email') as emails,
        countIf(a.activity_type = 'task') as tasks,
        uniqExactIfState(cityHash64(a.deal_id), a.deal_id is not null) as deals
    from {{ ref('int_activities') }} as a
    group by day, manager
),
per_manager as (
    select
        p.1 as period_grain,
        p.2 as period_start,
        d.manager as manager,
        sum(d.calls) as calls,
        sum(d.answered_calls) as answered_calls,
        sum(d.talk_seconds) / 60 as talk_minutes,
        sum(d.meetings) as meetings,
        sum(d.emails) as emails,
        sum(d.tasks) as tasks,
        uniqExactIfMerge(d.deals) as deals_worked
    from daily as d
    array join {{ period_starts('d.day', local_day=true) }} as p
    group by period_grain, period_start, manager
),
scored as (
    select *,
        calls * {{ pts.call }} + talk_minutes * {{ pts.talk_minute }}
            + meetings * {{ pts.meeting }} + emails * {{ pts.email }} + tasks * {{ pts.task }}
            as points
    from per_manager
)
select
    *,
    {{ safe_div('100 * points', 'sum(points) over period') }} as activity_index,
    {{ safe_div('100 * points', 'avg(points) over period') }} as activity_vs_average
from scored
-- The managers' points add up in one fixed order: a sum of fractional points depends on the
-- order of its terms, and two builds of the same data must give the same index.
window period as (
    partition by period_grain, period_start order by manager
    rows between unbounded preceding and unbounded following
)
