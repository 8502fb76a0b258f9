{{ config(materialized='incremental', unique_key='company_id', order_by='company_id',
          engine='ReplacingMergeTree(_raw_version)') }}
{% set inn = var('amocrm_company_inn_field') %}
select
    concat('amocrm:', id) as company_id,
    JSONExtractString(payload, 'name') as company_name,
    nullIf(replaceRegexpAll({{ amocrm_field('payload', inn) }}, '[^0-9]', ''), '') as inn,
    {{ amocrm_field_values('payload', 'PHONE') }} as phones,
    {{ raw_version_columns() }}
from {{ raw_versions(source('amocrm', 'amocrm__companies')) }}
where {{ raw_live_rows() }}
