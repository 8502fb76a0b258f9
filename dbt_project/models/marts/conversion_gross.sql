{{ config(engine='MergeTree()', order_by='(period_grain, segment_type, segment_value, period_start)') }}
-- Leads created and deals won in the same period, whatever the won deal's creation date.
-- Compares periods; not tied to clients; can exceed 1.
with deals as (
    select * from {{ ref('int_deals') }} where is_deleted = 0
),
events as (
    select created_at as ts, 1 as created, 0 as won, toFloat64(0) as revenue,
           manager, source, project, rating, pipeline
    from deals
    union all
    select assumeNotNull(won_at), 0, 1, amount, manager, source, project, rating, pipeline
    from deals
    where won_at is not null
)
select
    p.1 as period_grain,
    p.2 as period_start,
    seg.1 as segment_type,
    seg.2 as segment_value,
    toUInt64(sum(created)) as leads_created,
    toUInt64(sum(won)) as deals_won,
    sum(revenue) as revenue_won,
    {{ safe_div('deals_won', 'leads_created') }} as gross_conversion
from events
array join {{ period_starts('ts') }} as p
array join {{ segments() }} as seg
group by period_grain, period_start, segment_type, segment_value
