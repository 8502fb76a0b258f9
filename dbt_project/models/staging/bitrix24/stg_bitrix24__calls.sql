-- Bitrix24's own record of calls (voximplant statistics). EXTERNAL_CALL_ID carries the id of
-- the call in the PBX that registered it (UIS), which is how the same call is counted once.
select
    concat('bitrix24:call:', id) as crm_call_id,
    nullIf(id, '') as source_call_id,
    coalesce(nullIf(JSONExtractString(payload, 'EXTERNAL_CALL_ID'), ''),
             JSONExtractString(payload, 'CALL_ID')) as telephony_call_id,
    toUInt8OrZero(JSONExtractString(payload, 'CALL_TYPE')) as call_type,
    ifNull({{ json_int('payload', "'CALL_DURATION'") }}, 0) as duration_seconds,
    assumeNotNull({{ from_iso('payload', 'CALL_START_DATE') }}) as started_at,
    JSONExtractString(payload, 'CALL_FAILED_CODE') as failed_code,
    {{ normalize_phone("JSONExtractString(payload, 'PHONE_NUMBER')") }} as client_phone,
    concat('bitrix24:', JSONExtractString(payload, 'PORTAL_USER_ID')) as manager_id,
    JSONExtractString(payload, 'CRM_ACTIVITY_ID') as crm_activity_id,
    _loaded_at as loaded_at
from {{ source('bitrix24', 'bitrix24__calls') }} final
