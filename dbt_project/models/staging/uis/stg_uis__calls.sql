-- UIS calls: times are account-local without offset (var uis_timezone), durations in seconds.
-- A call is answered when a conversation took place (talk time > 0).
-- The employee on the call: the first to answer, else the last to answer, else the first
-- the call rang (a missed call); the id and the name come from the same place.
with
    multiIf(
        {{ json_id('payload', 'first_answered_employee_id') }} != '',
        tuple({{ json_id('payload', 'first_answered_employee_id') }},
              JSONExtractString(payload, 'first_answered_employee_full_name')),
        {{ json_id('payload', 'last_answered_employee_id') }} != '',
        tuple({{ json_id('payload', 'last_answered_employee_id') }},
              JSONExtractString(payload, 'last_answered_employee_full_name')),
        tuple({{ json_id("JSONExtractArrayRaw(payload, 'employees')[1]", 'employee_id') }},
              JSONExtractString(JSONExtractArrayRaw(payload, 'employees')[1],
                                'employee_full_name'))
    ) as employee
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
    employee.1 as employee_id,
    employee.2 as employee_name,
    _loaded_at as loaded_at
from {{ source('uis', 'uis__calls') }} final
where _is_deleted = 0
