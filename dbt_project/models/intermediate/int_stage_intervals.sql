{{ config(engine='MergeTree()', order_by='(deal_id, valid_from)') }}
-- Half-open [valid_from, valid_to) intervals: a deal is in exactly one stage at every instant
-- after its creation; the open interval has valid_to = NULL. Entries before the deal's
-- creation (clock skew between systems) are moved to the creation instant; of several entries
-- at one instant the last one (by event order) wins.
with deals as (
    {{ union_crms('deals', ['deal_id', 'created_at']) }}
),
entries as (
    select e.deal_id as deal_id, greatest(e.entered_at, d.created_at) as valid_from,
           argMax(e.stage_key, e.ord) as stage_key
    from {{ ref('int_stage_entries') }} as e
    inner join deals as d on d.deal_id = e.deal_id
    group by deal_id, valid_from
),
ordered as (
    select
        deal_id, stage_key, valid_from,
        leadInFrame(toNullable(valid_from)) over (
            partition by deal_id order by valid_from
            rows between current row and 1 following
        ) as valid_to
    from entries
)
select
    o.deal_id as deal_id,
    o.stage_key as stage_key,
    s.pipeline_name as pipeline,
    ifNull(nullIf(s.stage_name, ''), o.stage_key) as stage_name,
    s.stage_sort as stage_sort,
    ifNull(nullIf(s.stage_kind, ''), 'unknown') as stage_kind,
    o.valid_from as valid_from,
    o.valid_to as valid_to
from ordered as o
left join {{ ref('int_stages') }} as s on s.stage_key = o.stage_key
