{{ config(materialized='ephemeral') }}
-- Every time an amoCRM lead entered a status. The status before a lead's first change is the
-- one it was created in (no change: its current status); events are ordered by their id.
with first_change as (
    select deal_id, argMin(stage_key_before, (changed_at, event_id)) as first_stage
    from {{ ref('stg_amocrm__status_changes') }}
    group by deal_id
)
select l.deal_id as deal_id, l.created_at as entered_at,
       if(f.first_stage = '', l.stage_key, f.first_stage) as stage_key, '' as ord
from {{ ref('stg_amocrm__leads') }} as l
left join first_change as f on f.deal_id = l.deal_id
union all
select deal_id, changed_at, stage_key_after, event_id
from {{ ref('stg_amocrm__status_changes') }}
