{{ config(materialized='incremental', unique_key='event_id', order_by='event_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Deal stage moves (ints here, unlike other methods). TYPE_ID: 1 created, 2 moved to an
-- intermediate stage, 3 moved to a final stage, 5 funnel changed.
select
    toUInt64(JSONExtractUInt(payload, 'ID')) as event_id,
    nullIf(id, '') as source_event_id,
    toUInt8(JSONExtractUInt(payload, 'TYPE_ID')) as type_id,
    concat('bitrix24:', toString(JSONExtractUInt(payload, 'OWNER_ID'))) as deal_id,
    assumeNotNull({{ from_iso('payload', 'CREATED_TIME') }}) as changed_at,
    concat('bitrix24:', JSONExtractString(payload, 'STAGE_ID')) as stage_key,
    _loaded_at as loaded_at,
    {{ raw_version_columns(drops_deleted=false) }}
from {{ raw_versions(source('bitrix24', 'bitrix24__stage_history')) }}
where {{ raw_live_rows() }}
