{{ config(materialized='ephemeral') }}
-- Every time a Bitrix24 deal entered a stage. The TYPE_ID 1 "created" history row names the
-- stage it was created in (none: its current stage); later rows are moves, ordered by id.
with created as (
    select deal_id, argMin(stage_key, event_id) as first_stage
    from {{ ref('stg_bitrix24__stage_history') }}
    where type_id = 1
    group by deal_id
)
select d.deal_id as deal_id, d.created_at as entered_at,
       if(c.first_stage = '', d.stage_key, c.first_stage) as stage_key, '' as ord
from {{ ref('stg_bitrix24__deals') }} as d
left join created as c on c.deal_id = d.deal_id
union all
select deal_id, changed_at, stage_key, leftPad(toString(event_id), 20, '0')
from {{ ref('stg_bitrix24__stage_history') }}
where type_id != 1
