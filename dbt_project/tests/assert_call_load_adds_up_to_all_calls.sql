-- METRICS.md: nothing is dropped — per period and segment_type 'all', the calls over every
-- pipeline and stage equal the calls started in the period.
with mart as (
    select period_grain, period_start, sum(calls) as calls
    from {{ ref('call_load_by_stage') }}
    where segment_type = 'all'
    group by period_grain, period_start
),
truth as (
    select p.1 as period_grain, p.2 as period_start, count() as calls
    from {{ ref('int_calls') }}
    array join {{ period_starts('started_at') }} as p
    group by period_grain, period_start
)
select t.period_grain, t.period_start, t.calls as expected, m.calls as in_mart
from truth as t
full outer join mart as m on m.period_grain = t.period_grain and m.period_start = t.period_start
where t.calls != m.calls
