{{ config(engine='MergeTree()', order_by='(manager, deal_id)') }}
-- Open leads and deals nobody has touched for a while, with who owns them and what is at
-- stake. A "lead" is a deal still in its pipeline's first stage (or unsorted); later stages
-- are "deals". Activity is any call, task, meeting, e-mail or stage move on it. Idle past the
-- kind's threshold it is forgotten (someone should act); idle past `dead_days` it is dead
-- (written off in practice: clean it up rather than chase it).
with as_of as (
    select as_of from {{ ref('int_as_of') }}
),
last_touch as (
    select deal_id, max(happened_at) as at from {{ ref('int_activities') }}
    where deal_id is not null group by deal_id
    union all
    select deal_id, max(valid_from) from {{ ref('int_stage_intervals') }} group by deal_id
),
first_open as (
    select pipeline_id, min(stage_sort) as first_sort
    from {{ ref('int_stages') }} where stage_kind = 'open' group by pipeline_id
),
open_deals as (
    select d.*, s.stage_sort as stage_sort, s.pipeline_id as pipeline_id
    from {{ ref('int_deals') }} as d
    left join {{ ref('int_stages') }} as s on s.stage_key = d.stage_key
    where d.status = 'open' and d.is_deleted = 0
)
select
    o.deal_id as deal_id,
    o.crm as crm,
    o.pipeline as pipeline,
    o.stage_name as stage,
    if(o.stage_kind = 'unsorted' or o.stage_sort <= f.first_sort, 'lead', 'deal') as kind,
    o.manager as manager,
    o.source as source,
    o.project as project,
    o.rating as rating,
    o.amount as amount_at_stake,
    o.created_at as created_at,
    greatest(o.created_at, ifNull(max(t.at), o.created_at)) as last_activity_at,
    toUInt32(intDiv(greatest(0, dateDiff('second', last_activity_at,
                                         assumeNotNull((select as_of from as_of)))), 86400))
        as idle_days,
    toUInt32(if(kind = 'lead', {{ var('forgotten_lead_days') }}, {{ var('forgotten_deal_days') }}))
        as threshold_days,
    toUInt32({{ var('dead_days') }}) as dead_after_days,
    multiIf(idle_days >= dead_after_days, 'dead', idle_days >= threshold_days, 'forgotten',
            'active') as idle_status,
    idle_status = 'forgotten' as is_forgotten,
    idle_status = 'dead' as is_dead
from open_deals as o
left join first_open as f on f.pipeline_id = o.pipeline_id
left join last_touch as t on t.deal_id = o.deal_id
group by deal_id, crm, pipeline, stage, o.stage_kind, o.stage_sort, f.first_sort, manager,
         source, project, rating, amount_at_stake, created_at
