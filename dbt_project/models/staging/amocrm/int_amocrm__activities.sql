{{ config(materialized='ephemeral') }}
-- amoCRM tasks as activities: task_type_id 2 is a meeting, 3 an e-mail, anything else a task.
select
    task_id as activity_id,
    multiIf(task_type_id = 2, 'meeting', task_type_id = 3, 'email', 'task') as activity_type,
    created_at as happened_at,
    manager_id,
    deal_id
from {{ ref('stg_amocrm__tasks') }}
