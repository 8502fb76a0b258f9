-- Every time a deal entered a stage, both CRMs, with the stage it was created in first.
-- amoCRM: the stage before a deal's first change is its initial stage (no change: the current
-- one). Bitrix24: the TYPE_ID 1 "created" row names the initial stage.
with amo_first as (
    select deal_id, argMin(stage_key_before, (changed_at, event_id)) as first_stage
    from {{ ref('stg_amocrm__status_changes') }}
    group by deal_id
),
amo as (
    select l.deal_id as deal_id, l.created_at as entered_at,
           if(f.first_stage = '', l.stage_key, f.first_stage) as stage_key, '' as ord
    from {{ ref('stg_amocrm__leads') }} as l
    left join amo_first as f on f.deal_id = l.deal_id
    union all
    select deal_id, changed_at, stage_key_after, event_id
    from {{ ref('stg_amocrm__status_changes') }}
),
b24_created as (
    select deal_id, argMin(stage_key, event_id) as first_stage
    from {{ ref('stg_bitrix24__stage_history') }}
    where type_id = 1
    group by deal_id
),
b24 as (
    select d.deal_id as deal_id, d.created_at as entered_at,
           if(c.first_stage = '', d.stage_key, c.first_stage) as stage_key, '' as ord
    from {{ ref('stg_bitrix24__deals') }} as d
    left join b24_created as c on c.deal_id = d.deal_id
    union all
    select deal_id, changed_at, stage_key, leftPad(toString(event_id), 20, '0')
    from {{ ref('stg_bitrix24__stage_history') }}
    where type_id != 1
)
select deal_id, entered_at, stage_key, ord from amo
union all
select deal_id, entered_at, stage_key, ord from b24
