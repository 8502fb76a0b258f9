{{ config(materialized='incremental', unique_key='event_id', order_by='event_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- lead_status_changed events: the stage history. entity_type is "lead" or "leads".
-- The payload is parsed once, into a tuple of the fields read.
with
    JSONExtract(payload, 'Tuple(
        type String, entity_type String, entity_id UInt64, created_at String,
        value_before Array(Tuple(lead_status Tuple(id UInt64, pipeline_id UInt64))),
        value_after Array(Tuple(lead_status Tuple(id UInt64, pipeline_id UInt64))))') as e,
    tupleElement(e.value_before[1], 'lead_status') as before,
    tupleElement(e.value_after[1], 'lead_status') as after
select
    id as event_id,
    nullIf(id, '') as source_event_id,
    concat('amocrm:', toString(e.entity_id)) as deal_id,
    assumeNotNull({{ unix_value('e.created_at') }}) as changed_at,
    concat('amocrm:', toString(before.pipeline_id), ':', toString(before.id))
        as stage_key_before,
    concat('amocrm:', toString(after.pipeline_id), ':', toString(after.id)) as stage_key_after,
    _loaded_at as loaded_at,
    {{ raw_version_columns(keep="e.type = 'lead_status_changed'
        and e.entity_type in ('lead', 'leads')", drops_deleted=false) }}
from {{ raw_versions(source('amocrm', 'amocrm__status_changes')) }}
where {{ raw_live_rows() }}
