-- Call notes on leads; params.uniq is the telephony call id. duration may be a string.
select
    concat('amocrm:note:', id) as note_id,
    nullIf(id, '') as source_note_id,
    concat('amocrm:', toString(JSONExtractUInt(payload, 'entity_id'))) as deal_id,
    JSONExtractString(payload, 'params', 'uniq') as telephony_call_id,
    if(JSONExtractString(payload, 'note_type') = 'call_in', 'in', 'out') as direction,
    ifNull({{ json_int('payload', "'params', 'duration'") }}, 0) as duration_seconds,
    JSONExtractInt(payload, 'params', 'call_status') as call_status,
    {{ normalize_phone("JSONExtractString(payload, 'params', 'phone')") }} as client_phone,
    assumeNotNull({{ from_unix('payload', 'created_at') }}) as created_at,
    _loaded_at as loaded_at
from {{ source('amocrm', 'amocrm__call_notes') }} final
where _is_deleted = 0
