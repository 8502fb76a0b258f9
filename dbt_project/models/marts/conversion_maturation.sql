{{ config(engine='MergeTree()', order_by='(segment_type, segment_value, cohort_start, days_since_created)') }}
-- The maturation curve of each monthly cohort: the share of its leads won within d days of
-- their creation, for d = 0..maturity_days, shown only for the days every lead of the cohort
-- has lived through by as_of (a chain-ladder triangle: recent cohorts have shorter curves).
with as_of as (
    select as_of from {{ ref('int_as_of') }}
),
leads as (
    select
        toStartOfMonth({{ local('created_at') }}) as cohort_start,
        seg.1 as segment_type,
        seg.2 as segment_value,
        if(won_at is null, -1, toInt64(dateDiff('second', created_at, assumeNotNull(won_at)) / 86400))
            as won_after_days
    from {{ ref('int_deals') }}
    array join {{ segments() }} as seg
    where is_deleted = 0
),
cohorts as (
    select
        cohort_start, segment_type, segment_value,
        count() as leads,
        groupArrayIf(won_after_days, won_after_days >= 0) as won_days,
        dateDiff('day',
                 toDateTime(addMonths(cohort_start, 1), '{{ var("business_timezone") }}'),
                 (select as_of from as_of), '{{ var("business_timezone") }}') as days_observed
    from leads
    group by cohort_start, segment_type, segment_value
)
select
    cohort_start,
    segment_type,
    segment_value,
    toUInt16(d) as days_since_created,
    leads,
    toUInt64(arrayCount(x -> x <= d, won_days)) as cumulative_won,
    cumulative_won / leads as cumulative_conversion
from cohorts
array join range({{ var('maturity_days') }} + 1) as d
where d <= days_observed
