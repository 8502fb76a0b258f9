{{ config(
    materialized='period_replace',
    period_ts='started_at',
    engine='MergeTree()',
    order_by='(period_grain, segment_type, segment_value, period_start, pipeline, stage)',
    partition_by=period_partition_by(),
) }}
-- How much calling each deal stage costs. Nothing is dropped: calls without a deal appear as
-- pipeline '(none)', stage '(no deal)'; calls before a deal's creation as 'before deal'; after
-- the close they keep the final stage, which shows the post-sale load. Per period and segment
-- the calls over all stages add up to the calls in the period. 'manager' is whom the call
-- belongs to (its operator), 'deal_manager' the responsible manager of its deal.
select
    p.1 as period_grain,
    p.2 as period_start,
    pipeline,
    stage,
    seg.1 as segment_type,
    seg.2 as segment_value,
    count() as calls,
    countIf(c.direction = 'in') as inbound_calls,
    countIf(c.direction = 'out') as outbound_calls,
    countIf(c.is_answered) as answered_calls,
    countIf(not c.is_answered) as missed_calls,
    sum(c.talk_seconds) as talk_seconds,
    {{ safe_div('sumIf(c.talk_seconds, c.is_answered)', 'countIf(c.is_answered)') }}
        as avg_talk_seconds,
    uniqExactIf(c.deal_id, c.deal_id is not null) as deals_touched,
    {{ safe_div('countIf(c.deal_id is not null)', 'deals_touched') }} as calls_per_deal
from {{ period_rows(ref('int_calls')) }} as c
array join {{ period_starts('started_at') }} as p
array join {{ segments(('manager', 'deal_manager', 'source', 'project', 'rating', 'pipeline')) }} as seg
group by period_grain, period_start, pipeline, stage, segment_type, segment_value
