{{ config(materialized='incremental', unique_key='contact_id', order_by='contact_id',
          engine='ReplacingMergeTree(_raw_version)') }}
select
    concat('amocrm:', id) as contact_id,
    JSONExtractString(payload, 'name') as contact_name,
    arrayFilter(p -> p != '',
        arrayMap(p -> {{ normalize_phone('p') }}, {{ amocrm_field_values('payload', 'PHONE') }}))
        as phones,
    {{ raw_version_columns() }}
from {{ raw_versions(source('amocrm', 'amocrm__contacts')) }}
where {{ raw_live_rows() }}
