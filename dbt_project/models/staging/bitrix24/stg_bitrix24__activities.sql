-- Activities (calls, meetings, e-mails, tasks). OWNER_TYPE_ID 2 = the activity is on a deal.
-- TYPE_ID: 1 meeting, 2 call, 3 task, 4 e-mail; DIRECTION 1 incoming, 2 outgoing.
select
    id as activity_id,
    toUInt8OrZero(JSONExtractString(payload, 'TYPE_ID')) as type_id,
    JSONExtractString(payload, 'PROVIDER_ID') as provider_id,
    if(JSONExtractString(payload, 'OWNER_TYPE_ID') = '2',
       concat('bitrix24:', JSONExtractString(payload, 'OWNER_ID')), '') as deal_id,
    toUInt8OrZero(JSONExtractString(payload, 'DIRECTION')) as direction,
    {{ from_iso('payload', 'START_TIME') }} as started_at,
    JSONExtractString(payload, 'COMPLETED') = 'Y' as is_completed,
    concat('bitrix24:', JSONExtractString(payload, 'RESPONSIBLE_ID')) as manager_id,
    assumeNotNull(coalesce({{ from_iso('payload', 'CREATED') }}, {{ from_iso('payload', 'START_TIME') }}))
        as created_at
from {{ source('bitrix24', 'bitrix24__activities') }} final
where _is_deleted = 0
