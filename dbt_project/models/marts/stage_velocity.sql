{{ config(engine='MergeTree()', order_by='(pipeline, stage_sort, period_start)') }}
-- How long deals spend in each stage, where they go next, how long the whole cycle takes, and
-- how many sit in a stage longer than 90 % of the deals that passed through it.
-- Grain: pipeline × stage × month a deal entered the stage; stage '(cycle to won)' gives the
-- days from creation to the win for deals won in that month.
with as_of as (
    select as_of from {{ ref('int_as_of') }}
),
intervals as (
    select
        i.*,
        leadInFrame(i.stage_kind) over (
            partition by i.deal_id order by i.valid_from
            rows between current row and 1 following) as next_kind,
        leadInFrame(i.stage_sort) over (
            partition by i.deal_id order by i.valid_from
            rows between current row and 1 following) as next_sort,
        dateDiff('second', i.valid_from,
                 ifNull(i.valid_to, (select as_of from as_of))) as seconds_in_stage,
        seconds_in_stage / 86400 as days_in_stage
    from {{ ref('int_stage_intervals') }} as i
    inner join {{ ref('int_deals') }} as d on d.deal_id = i.deal_id
    where d.is_deleted = 0
),
p90 as (
    select pipeline, stage_name, quantileExact(0.9)(days_in_stage) as p90_days  -- noqa: LT01
    from intervals where valid_to is not null group by pipeline, stage_name
),
stages as (
    select
        i.pipeline as pipeline,
        i.stage_name as stage,
        i.stage_kind as stage_kind,
        min(i.stage_sort) as stage_sort,
        toStartOfMonth({{ local('i.valid_from') }}) as period_start,
        count() as deals_entered,
        countIf(i.valid_to is not null) as deals_left,
        -- Averages over whole seconds: a sum of fractions depends on the order of its terms,
        -- which threads change from one build to the next; an integer sum does not.
        avgIf(i.seconds_in_stage, i.valid_to is not null) / 86400 as avg_days_in_stage,
        medianExactIf(i.days_in_stage, i.valid_to is not null) as median_days_in_stage,
        countIf(i.valid_to is not null and i.next_kind = 'won') as moved_to_won,
        countIf(i.valid_to is not null and i.next_kind = 'lost') as moved_to_lost,
        countIf(i.valid_to is not null and i.next_kind not in ('won', 'lost')
                and i.next_sort > i.stage_sort) as moved_forward,
        countIf(i.valid_to is null) as still_in_stage,
        countIf(i.valid_to is null and i.stage_kind not in ('won', 'lost')
                and i.days_in_stage > p.p90_days) as stuck_deals,
        any(p.p90_days) as p90_days_in_stage
    from intervals as i
    left join p90 as p on p.pipeline = i.pipeline and p.stage_name = i.stage_name
    group by pipeline, stage, stage_kind, period_start
),
cycles as (
    select
        pipeline,
        '(cycle to won)' as stage,
        'won' as stage_kind,
        toInt64(1000000) as stage_sort,
        toStartOfMonth({{ local('assumeNotNull(won_at)') }}) as period_start,
        count() as deals_entered,
        count() as deals_left,
        avg(dateDiff('second', created_at, assumeNotNull(won_at))) / 86400 as avg_days_in_stage,
        medianExact(dateDiff('second', created_at, assumeNotNull(won_at)) / 86400)
            as median_days_in_stage,
        count() as moved_to_won,
        0 as moved_to_lost,
        0 as moved_forward,
        0 as still_in_stage,
        0 as stuck_deals,
        quantileExact(0.9)(dateDiff('second', created_at, assumeNotNull(won_at)) / 86400)  -- noqa: LT01
            as p90_days_in_stage
    from {{ ref('int_deals') }}
    where won_at is not null and is_deleted = 0
    group by pipeline, period_start
)
select
    *,
    {{ safe_div('moved_forward + moved_to_won', 'deals_left') }} as stage_conversion
from (
    select * from stages
    union all
    select * from cycles
) as stages_and_cycles
