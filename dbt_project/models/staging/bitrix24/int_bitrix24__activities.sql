{{ config(materialized='ephemeral') }}
-- Bitrix24 activities: TYPE_ID 1 meeting, 2 call, 4 e-mail, else a task.
select
    concat('bitrix24:activity:', activity_id) as activity_id,
    multiIf(type_id = 1, 'meeting', type_id = 2, 'call', type_id = 4, 'email', 'task')
        as activity_type,
    created_at as happened_at,
    manager_id,
    nullIf(deal_id, '') as deal_id
from {{ ref('stg_bitrix24__activities') }}
