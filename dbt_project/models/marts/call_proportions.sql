{{ config(engine='MergeTree()', order_by='(segment_type, period_start, segment_value)') }}
-- Which managers, sources, projects and client ratings eat talk time without bringing revenue.
-- Shares are within one month and one segment_type. effort_to_revenue = talk_share /
-- revenue_share: a project with 40 % of talk time and 10 % of revenue scores 4.0.
-- 'manager': calls by whom they belong to (the operator), deals by their responsible manager,
-- one conformed name for both; 'deal_manager': the calls on a manager's own deals.
{% set types = ('manager', 'deal_manager', 'source', 'project', 'rating') %}
with calls as (
    select
        toStartOfMonth({{ local('started_at') }}) as period_start,
        seg.1 as segment_type,
        seg.2 as segment_value,
        count() as calls,
        sum(talk_seconds) / 60 as talk_minutes
    from {{ ref('int_calls') }}
    array join {{ segments(types, with_all=false) }} as seg
    group by period_start, segment_type, segment_value
),
deal_events as (
    select created_at as ts, 1 as created, 0 as won, toFloat64(0) as revenue,
           manager, manager as deal_manager, source, project, rating
    from {{ ref('int_deals') }} where is_deleted = 0
    union all
    select assumeNotNull(won_at), 0, 1, amount, manager, manager as deal_manager, source, project,
           rating
    from {{ ref('int_deals') }} where is_deleted = 0 and won_at is not null
),
deals as (
    select
        toStartOfMonth({{ local('ts') }}) as period_start,
        seg.1 as segment_type,
        seg.2 as segment_value,
        toUInt64(sum(created)) as deals_created,
        toUInt64(sum(won)) as deals_won,
        sum(revenue) as revenue_won
    from deal_events
    array join {{ segments(types, with_all=false) }} as seg
    group by period_start, segment_type, segment_value
),
joined as (
    select
        if(c.segment_type != '', c.period_start, d.period_start) as period_start,
        if(c.segment_type != '', c.segment_type, d.segment_type) as segment_type,
        if(c.segment_type != '', c.segment_value, d.segment_value) as segment_value,
        c.calls as calls,
        c.talk_minutes as talk_minutes,
        d.deals_created as deals_created,
        d.deals_won as deals_won,
        d.revenue_won as revenue_won
    from calls as c
    full outer join deals as d
        on c.period_start = d.period_start and c.segment_type = d.segment_type
        and c.segment_value = d.segment_value
)
select
    period_start,
    segment_type,
    segment_value,
    calls,
    talk_minutes,
    {{ safe_div('calls', 'sum(calls) over w') }} as call_share,
    {{ safe_div('talk_minutes', 'sum(talk_minutes) over w') }} as talk_share,
    deals_created,
    deals_won,
    revenue_won,
    {{ safe_div('revenue_won', 'sum(revenue_won) over w') }} as revenue_share,
    {{ safe_div('deals_won', 'deals_created') }} as conversion_to_won,
    {{ safe_div('revenue_won', 'talk_minutes') }} as revenue_per_talk_minute,
    {{ safe_div('talk_minutes', 'deals_won') }} as talk_minutes_per_sale,
    {{ safe_div('talk_share', 'revenue_share') }} as effort_to_revenue
from joined
-- The totals add the segments in one fixed order: a sum of fractional values depends on the
-- order of its terms, and two builds of the same data must give the same shares.
window w as (
    partition by period_start, segment_type order by segment_value
    rows between unbounded preceding and unbounded following
)
