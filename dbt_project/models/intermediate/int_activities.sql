{{ config(materialized='view') }}
-- Everything a manager does, one row per action: calls (from telephony, which counts each
-- call once; the CRMs' own call records are left out), and the meetings, e-mails and tasks
-- of every CRM, with the deal it concerns when known.
-- A view: its rows are int_calls' plus the CRMs' other activities, and each of its three
-- readers reads them once, so a table only copied every call on each run (1.1-1.4 s of the
-- build at scale 10, 14 s of a dbt thread at scale 100, against 0.1-0.2 s for the readers to read through).
with crm_users as (
    select person_id, manager from {{ ref('int_managers') }} where match = 'crm_user'
),
crm_activities as (
    {{ union_crms('activities', ['activity_id', 'activity_type', 'happened_at', 'manager_id',
                                 'deal_id']) }}
)
select call_id as activity_id, 'call' as activity_type, started_at as happened_at, manager,
       deal_id, talk_seconds, is_answered
from {{ ref('int_calls') }}
union all
select a.activity_id, a.activity_type, a.happened_at, ifNull(nullIf(m.manager, ''), 'unknown'),
       a.deal_id, 0, false
from crm_activities as a
left join crm_users as m on m.person_id = a.manager_id
where a.activity_type != 'call'
