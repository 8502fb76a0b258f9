{{ config(materialized='incremental', unique_key='crm_call_id', order_by='crm_call_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Bitrix24's own record of calls (voximplant statistics). EXTERNAL_CALL_ID carries the id of
-- the call in the PBX that registered it (UIS), which is how the same call is counted once.
-- The payload is parsed once, into a tuple of the fields read (Bitrix24 spells them in
-- capitals, so they are read by name with tupleElement).
with
    JSONExtract(payload, 'Tuple(
        EXTERNAL_CALL_ID String, CALL_ID String, CALL_TYPE String, CALL_DURATION String,
        CALL_START_DATE String, CALL_FAILED_CODE String, PHONE_NUMBER String,
        PORTAL_USER_ID String, CRM_ACTIVITY_ID String)') as c
select
    concat('bitrix24:call:', id) as crm_call_id,
    nullIf(id, '') as source_call_id,
    coalesce(nullIf(tupleElement(c, 'EXTERNAL_CALL_ID'), ''), tupleElement(c, 'CALL_ID'))
        as telephony_call_id,
    toUInt8OrZero(tupleElement(c, 'CALL_TYPE')) as call_type,
    ifNull(toInt64OrNull(tupleElement(c, 'CALL_DURATION')), 0) as duration_seconds,
    assumeNotNull({{ iso_value("tupleElement(c, 'CALL_START_DATE')") }}) as started_at,
    tupleElement(c, 'CALL_FAILED_CODE') as failed_code,
    {{ normalize_phone("tupleElement(c, 'PHONE_NUMBER')") }} as client_phone,
    concat('bitrix24:', tupleElement(c, 'PORTAL_USER_ID')) as manager_id,
    tupleElement(c, 'CRM_ACTIVITY_ID') as crm_activity_id,
    _loaded_at as loaded_at,
    {{ raw_version_columns(drops_deleted=false) }}
from {{ raw_versions(source('bitrix24', 'bitrix24__calls')) }}
where {{ raw_live_rows() }}
