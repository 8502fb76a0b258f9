{{ config(materialized='incremental', unique_key='call_id', order_by='call_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- UIS calls: times are account-local without offset (var uis_timezone), durations in seconds.
-- A call is answered when a conversation took place (talk time > 0).
-- The employee on the call: the first to answer, else the last to answer, else the first
-- the call rang (a missed call); the id and the name come from the same place.
-- The payload is parsed once, into a tuple of the fields read (a String field holds a JSON
-- number's text and a string's value, '' for null or absent: what json_id and json_int read).
with
    JSONExtract(payload, 'Tuple(
        start_time String, finish_time String, direction String, is_lost Bool,
        talk_duration String, wait_duration String, total_duration String,
        contact_phone_number String, virtual_phone_number String, finish_reason String,
        source String,
        first_answered_employee_id String, first_answered_employee_full_name String,
        last_answered_employee_id String, last_answered_employee_full_name String,
        employees Array(Tuple(employee_id String, employee_full_name String)))') as call,
    multiIf(
        call.first_answered_employee_id != '',
        tuple(call.first_answered_employee_id, call.first_answered_employee_full_name),
        call.last_answered_employee_id != '',
        tuple(call.last_answered_employee_id, call.last_answered_employee_full_name),
        tuple(tupleElement(call.employees[1], 'employee_id'),
              tupleElement(call.employees[1], 'employee_full_name'))
    ) as employee
select
    concat('uis:', id) as call_id,
    nullIf(id, '') as telephony_call_id,
    assumeNotNull({{ from_local('call.start_time', var('uis_timezone')) }}) as started_at,
    {{ from_local('call.finish_time', var('uis_timezone')) }} as finished_at,
    call.direction as direction,
    toUInt8(call.is_lost) as is_lost,  -- as JSONExtractBool gave it
    ifNull(toInt64OrNull(call.talk_duration), 0) as talk_seconds,
    ifNull(toInt64OrNull(call.wait_duration), 0) as wait_seconds,
    ifNull(toInt64OrNull(call.total_duration), 0) as total_seconds,
    talk_seconds > 0 as is_answered,
    {{ normalize_phone('call.contact_phone_number') }} as client_phone,
    call.virtual_phone_number as virtual_phone,
    call.finish_reason as finish_reason,
    call.source as call_source,
    employee.1 as employee_id,
    employee.2 as employee_name,
    _loaded_at as loaded_at,
    {{ raw_version_columns() }}
from {{ raw_versions(source('uis', 'uis__calls')) }}
where {{ raw_live_rows() }}
