{{ config(engine='MergeTree()', order_by='(manager, week_start)') }}
-- Whether a manager's outbound calls reach the client, week by week, and the trend of the
-- weekly activity index (manager_activity's definition) that shows a manager burning out:
-- the last 4 weeks' average index against the 4 weeks before.
{% set drop = var('burnout_drop') %}
with reach as (
    select
        manager,
        {{ period_start('started_at', 'week') }} as week_start,
        count() as outbound_calls,
        countIf(is_answered) as reached_calls,
        countIf(not is_answered) as unreached_calls,
        sumIf(talk_seconds, is_answered) / 60 as talk_minutes
    from {{ ref('int_calls') }}
    where direction = 'out'
    group by manager, week_start
),
activity as (
    select manager, period_start as week_start, activity_index
    from {{ ref('manager_activity') }}
    where period_grain = 'week'
),
weeks as (
    select
        if(r.manager != '', r.manager, a.manager) as manager,
        if(r.manager != '', r.week_start, a.week_start) as week_start,
        r.outbound_calls as outbound_calls,
        r.reached_calls as reached_calls,
        r.unreached_calls as unreached_calls,
        r.talk_minutes as talk_minutes,
        a.activity_index as activity_index
    from reach as r
    full outer join activity as a on a.manager = r.manager and a.week_start = r.week_start
),
trended as (
    select
        *,
        avg(activity_index) over (
            partition by manager order by week_start rows between 3 preceding and current row
        ) as activity_index_4w,
        avg(activity_index) over (
            partition by manager order by week_start rows between 7 preceding and 4 preceding
        ) as activity_index_prev_4w,
        count() over (
            partition by manager order by week_start rows between 7 preceding and current row
        ) as weeks_seen
    from weeks
)
select
    manager,
    week_start,
    outbound_calls,
    reached_calls,
    unreached_calls,
    {{ safe_div('reached_calls', 'outbound_calls') }} as reach_rate,
    talk_minutes,
    activity_index,
    activity_index_4w,
    if(weeks_seen = 8, activity_index_prev_4w, NULL) as activity_index_prev_4w,
    if(weeks_seen = 8, {{ safe_div('activity_index_4w', 'activity_index_prev_4w') }} - 1, NULL)
        as activity_trend,
    toBool(ifNull(activity_trend <= -{{ drop }}, false)) as is_burning_out
from trended
