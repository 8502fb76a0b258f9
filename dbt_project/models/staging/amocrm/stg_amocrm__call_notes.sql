{{ config(materialized='incremental', unique_key='note_id', order_by='note_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Call notes on leads; params.uniq is the telephony call id. duration may be a string.
-- The payload is parsed once, into a tuple of the fields read.
with
    JSONExtract(payload, 'Tuple(
        entity_id UInt64, note_type String, created_at String,
        params Tuple(uniq String, duration String, call_status Int64, phone String))') as note
select
    concat('amocrm:note:', id) as note_id,
    nullIf(id, '') as source_note_id,
    concat('amocrm:', toString(note.entity_id)) as deal_id,
    note.params.uniq as telephony_call_id,
    if(note.note_type = 'call_in', 'in', 'out') as direction,
    ifNull(toInt64OrNull(note.params.duration), 0) as duration_seconds,
    note.params.call_status as call_status,
    {{ normalize_phone('note.params.phone') }} as client_phone,
    assumeNotNull({{ unix_value('note.created_at') }}) as created_at,
    _loaded_at as loaded_at,
    {{ raw_version_columns() }}
from {{ raw_versions(source('amocrm', 'amocrm__call_notes')) }}
where {{ raw_live_rows() }}
