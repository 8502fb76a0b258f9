{{ config(engine='MergeTree()', order_by='(client_key, period_start, manager)') }}
-- How densely each client is talked to: communications per client, month and manager, so
-- gaps show as months without a row and each manager's last contact with a client is kept.
select
    m.client_key as client_key,
    any(c.crm) as crm,
    any(c.client_type) as client_type,
    any(c.client_id) as client_id,
    any(c.client_name) as client_name,
    m.period_start as period_start,
    m.manager as manager,
    sum(m.communications) as communications,
    sum(m.calls) as calls,
    sum(m.talk_seconds) / 60 as talk_minutes,
    sum(m.meetings) as meetings,
    sum(m.emails) as emails,
    max(m.last_communication_at) as last_communication_at
from {{ ref('int_client_months') }} as m
inner join {{ ref('int_clients') }} as c on c.client_key = m.client_key
group by client_key, period_start, manager
