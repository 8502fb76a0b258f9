-- lead_status_changed events: the stage history. entity_type is "lead" or "leads".
select
    id as event_id,
    nullIf(id, '') as source_event_id,
    concat('amocrm:', toString(JSONExtractUInt(payload, 'entity_id'))) as deal_id,
    assumeNotNull({{ from_unix('payload', 'created_at') }}) as changed_at,
    concat('amocrm:',
        toString(JSONExtractUInt(JSONExtractArrayRaw(payload, 'value_before')[1], 'lead_status', 'pipeline_id')), ':',
        toString(JSONExtractUInt(JSONExtractArrayRaw(payload, 'value_before')[1], 'lead_status', 'id')))
        as stage_key_before,
    concat('amocrm:',
        toString(JSONExtractUInt(JSONExtractArrayRaw(payload, 'value_after')[1], 'lead_status', 'pipeline_id')), ':',
        toString(JSONExtractUInt(JSONExtractArrayRaw(payload, 'value_after')[1], 'lead_status', 'id')))
        as stage_key_after,
    _loaded_at as loaded_at
from {{ source('amocrm', 'amocrm__status_changes') }} final
where JSONExtractString(payload, 'type') = 'lead_status_changed'
  and JSONExtractString(payload, 'entity_type') in ('lead', 'leads')
