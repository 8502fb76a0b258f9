{{ config(engine='MergeTree()', order_by='(manager, happened_at)') }}
-- Everything a manager does, one row per action: calls (telephony, counted once), meetings,
-- e-mails and tasks from both CRMs, with the deal it concerns when known.
select call_id as activity_id, 'call' as activity_type, started_at as happened_at, manager,
       deal_id, talk_seconds, is_answered
from {{ ref('int_calls') }}
union all
select t.task_id, multiIf(t.task_type_id = 2, 'meeting', t.task_type_id = 3, 'email', 'task'),
       t.created_at, ifNull(nullIf(u.manager_name, ''), 'unknown'), t.deal_id, 0, false
from {{ ref('stg_amocrm__tasks') }} as t
left join {{ ref('stg_amocrm__users') }} as u on u.manager_id = t.manager_id
union all
select concat('bitrix24:activity:', a.activity_id),
       multiIf(a.type_id = 1, 'meeting', a.type_id = 4, 'email', 'task'),
       a.created_at, ifNull(nullIf(u.manager_name, ''), 'unknown'), nullIf(a.deal_id, ''), 0, false
from {{ ref('stg_bitrix24__activities') }} as a
left join {{ ref('stg_bitrix24__users') }} as u on u.manager_id = a.manager_id
where a.type_id != 2  -- calls come from telephony, once
