-- UIS calls: times are account-local without offset (var uis_timezone), durations in seconds.
-- A call is answered when a conversation took place (talk time > 0).
select
    concat('uis:', id) as call_id,
    nullIf(id, '') as telephony_call_id,
    assumeNotNull({{ from_local("JSONExtractString(payload, 'start_time')", var('uis_timezone')) }})
        as started_at,
    {{ from_local("JSONExtractString(payload, 'finish_time')", var('uis_timezone')) }}
        as finished_at,
    JSONExtractString(payload, 'direction') as direction,
    JSONExtractBool(payload, 'is_lost') as is_lost,
    ifNull({{ json_int('payload', "'talk_duration'") }}, 0) as talk_seconds,
    ifNull({{ json_int('payload', "'wait_duration'") }}, 0) as wait_seconds,
    ifNull({{ json_int('payload', "'total_duration'") }}, 0) as total_seconds,
    talk_seconds > 0 as is_answered,
    {{ normalize_phone("JSONExtractString(payload, 'contact_phone_number')") }} as client_phone,
    JSONExtractString(payload, 'virtual_phone_number') as virtual_phone,
    JSONExtractString(payload, 'finish_reason') as finish_reason,
    JSONExtractString(payload, 'source') as call_source,
    coalesce(
        nullIf(JSONExtractString(payload, 'first_answered_employee_full_name'), ''),
        nullIf(JSONExtractString(payload, 'last_answered_employee_full_name'), ''),
        nullIf(JSONExtractString(JSONExtractArrayRaw(payload, 'employees')[1],
                                 'employee_full_name'), ''),
        ''
    ) as employee_name,
    _loaded_at as loaded_at
from {{ source('uis', 'uis__calls') }} final
where _is_deleted = 0
