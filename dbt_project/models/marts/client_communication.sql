{{ config(engine='MergeTree()', order_by='(client_key, period_start, manager)') }}
-- How densely each client is talked to: communications per client, month and manager, so
-- gaps show as months without a row and each manager's last contact with a client is kept.
select
    m.client_key as client_key,
    any(c.crm) as crm,
    any(c.client_type) as client_type,
    any(c.client_id) as client_id,
    any(c.client_name) as client_name,
    toStartOfMonth({{ local('m.happened_at') }}) as period_start,
    m.manager as manager,
    count() as communications,
    countIf(m.channel = 'call') as calls,
    sumIf(m.talk_seconds, m.channel = 'call') / 60 as talk_minutes,
    countIf(m.channel = 'meeting') as meetings,
    countIf(m.channel = 'email') as emails,
    max(m.happened_at) as last_communication_at
from {{ ref('int_client_communications') }} as m
inner join {{ ref('int_clients') }} as c on c.client_key = m.client_key
group by client_key, period_start, manager
