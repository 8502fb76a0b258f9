{{ config(materialized='incremental', unique_key='contact_id', order_by='contact_id',
          engine='ReplacingMergeTree(_raw_version)') }}
select
    concat('bitrix24:contact:', id) as contact_id,
    trim(concat(JSONExtractString(payload, 'NAME'), ' ', JSONExtractString(payload, 'LAST_NAME')))
        as contact_name,
    arrayFilter(p -> p != '', arrayMap(v -> {{ normalize_phone("JSONExtractString(v, 'VALUE')") }},
        JSONExtractArrayRaw(payload, 'PHONE'))) as phones,
    {{ raw_version_columns() }}
from {{ raw_versions(source('bitrix24', 'bitrix24__contacts')) }}
where {{ raw_live_rows() }}
