{{ config(materialized='incremental', unique_key='activity_id', order_by='activity_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Activities (calls, meetings, e-mails, tasks). OWNER_TYPE_ID 2 = the activity is on a deal.
-- TYPE_ID: 1 meeting, 2 call, 3 task, 4 e-mail; DIRECTION 1 incoming, 2 outgoing.
-- The payload is parsed once, into a tuple of the fields read (Bitrix24 spells them in
-- capitals, so they are read by name with tupleElement).
with
    JSONExtract(payload, 'Tuple(
        TYPE_ID String, PROVIDER_ID String, OWNER_TYPE_ID String, OWNER_ID String,
        DIRECTION String, START_TIME String, COMPLETED String, RESPONSIBLE_ID String,
        CREATED String)') as a,
    {{ iso_value("tupleElement(a, 'START_TIME')") }} as a_start
select
    id as activity_id,
    toUInt8OrZero(tupleElement(a, 'TYPE_ID')) as type_id,
    tupleElement(a, 'PROVIDER_ID') as provider_id,
    if(tupleElement(a, 'OWNER_TYPE_ID') = '2',
       concat('bitrix24:', tupleElement(a, 'OWNER_ID')), '') as deal_id,
    toUInt8OrZero(tupleElement(a, 'DIRECTION')) as direction,
    a_start as started_at,
    tupleElement(a, 'COMPLETED') = 'Y' as is_completed,
    concat('bitrix24:', tupleElement(a, 'RESPONSIBLE_ID')) as manager_id,
    assumeNotNull(coalesce({{ iso_value("tupleElement(a, 'CREATED')") }}, a_start)) as created_at,
    {{ raw_version_columns() }}
from {{ raw_versions(source('bitrix24', 'bitrix24__activities')) }}
where {{ raw_live_rows() }}
