{{ config(engine='MergeTree()', order_by='(cohort_grain, segment_type, segment_value, cohort_start)') }}
-- Leads of one creation period followed to their wins. conversion_<N>d is NULL until every
-- lead of the cohort has had N days (cohort end + N days <= as_of), so every non-NULL value
-- of one column gave each lead the same time to convert.
-- projected_conversion: the to-date value divided by the share of eventual wins that mature
-- cohorts of the same segment had reached at this cohort's age (chain ladder), capped at 1.
-- age_days counts from the cohort's last day and is 0 while the cohort is still open.
{% set horizons = [7, 30, 60, 90] %}
with as_of as (
    select as_of from {{ ref('int_as_of') }}
),
leads as (
    select
        p.1 as cohort_grain,
        p.2 as cohort_start,
        seg.1 as segment_type,
        seg.2 as segment_value,
        created_at,
        won_at
    from {{ ref('int_deals') }}
    array join {{ period_starts('created_at', ('week', 'month')) }} as p
    array join {{ segments() }} as seg
    where is_deleted = 0
),
cohorts as (
    select
        cohort_grain, cohort_start, segment_type, segment_value,
        count() as leads,
        countIf(won_at is not null) as won_to_date,
        {% for n in horizons %}
        countIf(won_at is not null and won_at < created_at + toIntervalDay({{ n }}))
            as won_within_{{ n }}d,
        {% endfor %}
        {{ period_end_ts('cohort_grain', 'cohort_start') }} as cohort_end
    from leads
    group by cohort_grain, cohort_start, segment_type, segment_value
),
aged as (
    select
        c.*,
        (select as_of from as_of) as as_of,
        dateDiff('day', c.cohort_end, as_of, '{{ var("business_timezone") }}') as days_since_end,
        days_since_end >= {{ var('maturity_days') }} as is_mature,
        dateDiff('day', toDateTime(c.cohort_start, '{{ var("business_timezone") }}'), as_of,
                 '{{ var("business_timezone") }}') as days_since_start,
        toDate(c.cohort_end, '{{ var("business_timezone") }}') - 1 as cohort_last_day
    from cohorts as c
),
-- For mature cohorts: how many of their wins came within d days of the cohort's start.
development as (
    select
        l.cohort_grain as cohort_grain, l.segment_type as segment_type,
        l.segment_value as segment_value,
        toInt64(dateDiff('day', toDateTime(l.cohort_start, '{{ var("business_timezone") }}'),
                         assumeNotNull(l.won_at), '{{ var("business_timezone") }}')) as won_day
    from leads as l
    inner join aged as a
        on a.cohort_grain = l.cohort_grain and a.cohort_start = l.cohort_start
        and a.segment_type = l.segment_type and a.segment_value = l.segment_value
    where a.is_mature and l.won_at is not null
),
totals as (
    select cohort_grain, segment_type, segment_value, count() as mature_wins,
           groupArray(won_day) as won_days
    from development
    group by cohort_grain, segment_type, segment_value
)
select
    a.cohort_grain as cohort_grain,
    a.cohort_start as cohort_start,
    a.segment_type as segment_type,
    a.segment_value as segment_value,
    a.leads as leads,
    a.won_to_date as won_to_date,
    {{ safe_div('a.won_to_date', 'a.leads') }} as cohort_conversion_to_date,
    toInt32(greatest(0, dateDiff('day', a.cohort_last_day,
                                 toDate(a.as_of, '{{ var("business_timezone") }}')))) as age_days,
    a.cohort_end > a.as_of as is_open,
    {% for n in horizons %}
    a.won_within_{{ n }}d as won_within_{{ n }}d,
    if(a.cohort_end + toIntervalDay({{ n }}) <= a.as_of,
       {{ safe_div('a.won_within_' ~ n ~ 'd', 'a.leads') }}, NULL) as conversion_{{ n }}d,
    {% endfor %}
    a.is_mature as is_mature,
    if(a.is_mature, 1.0,
       {{ safe_div('arrayCount(x -> x < a.days_since_start, t.won_days)', 't.mature_wins') }})
        as development_share,
    multiIf(
        a.is_mature, {{ safe_div('a.won_to_date', 'a.leads') }},
        development_share is null or development_share = 0, NULL,
        least(1.0, ({{ safe_div('a.won_to_date', 'a.leads') }}) / development_share)
    ) as projected_conversion,
    a.as_of as as_of
from aged as a
left join totals as t
    on t.cohort_grain = a.cohort_grain and t.segment_type = a.segment_type
    and t.segment_value = a.segment_value
