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
-- Aggregated once per local day, then rolled up into weeks and months: each call is grouped
-- 7 times (its segments) instead of 21 (segments x grains); the deals touched roll up as
-- uniqExact states, so the counts are exact at every grain. The states hold a 64-bit hash of
-- each deal id (uniqExact of a String holds a 128-bit one): 20-25 % of the mart's query at
-- scale 100, and two deals of one group would have to share a hash to count as one (about
-- 2e-9 expected such pairs in the whole scale-100 mart).
with daily as (
    select
        {{ period_start('started_at', 'day') }} as day,
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
        sumIf(c.talk_seconds, c.is_answered) as answered_talk_seconds,
        countIf(c.deal_id is not null) as calls_with_deal,
        uniqExactIfState(cityHash64(c.deal_id), c.deal_id is not null) as deals
    from {{ period_rows(ref('int_calls')) }} as c
    array join {{ segments(('manager', 'deal_manager', 'source', 'project', 'rating', 'pipeline')) }} as seg
    group by day, pipeline, stage, segment_type, segment_value
)
select
    p.1 as period_grain,
    p.2 as period_start,
    pipeline,
    stage,
    segment_type,
    segment_value,
    sum(d.calls) as calls,
    sum(d.inbound_calls) as inbound_calls,
    sum(d.outbound_calls) as outbound_calls,
    sum(d.answered_calls) as answered_calls,
    sum(d.missed_calls) as missed_calls,
    sum(d.talk_seconds) as talk_seconds,
    {{ safe_div('sum(d.answered_talk_seconds)', 'sum(d.answered_calls)') }} as avg_talk_seconds,
    uniqExactIfMerge(d.deals) as deals_touched,
    {{ safe_div('sum(d.calls_with_deal)', 'deals_touched') }} as calls_per_deal
from daily as d
array join {{ period_starts('d.day', local_day=true) }} as p
group by period_grain, period_start, pipeline, stage, segment_type, segment_value
