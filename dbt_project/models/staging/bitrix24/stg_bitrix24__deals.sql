{{ config(materialized='incremental', unique_key='deal_id', order_by='deal_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Bitrix24 deals: ids and amounts come as strings, dates with the portal's offset.
-- CLOSEDATE is the *planned* close date, so the actual close comes from the stage history.
{% set f = var('bitrix24_deal_fields') %}
select
    concat('bitrix24:', d.id) as deal_id,
    nullIf(d.id, '') as source_deal_id,
    JSONExtractString(d.payload, 'TITLE') as deal_name,
    assumeNotNull({{ from_iso('d.payload', 'DATE_CREATE') }}) as created_at,
    {{ from_iso('d.payload', 'DATE_MODIFY') }} as updated_at,
    cast(NULL as Nullable(DateTime64(3, 'UTC'))) as closed_at,
    ifNull({{ json_float('d.payload', "'OPPORTUNITY'") }}, 0) as amount,
    JSONExtractString(d.payload, 'CATEGORY_ID') as pipeline_id,
    concat('bitrix24:', JSONExtractString(d.payload, 'STAGE_ID')) as stage_key,
    concat('bitrix24:', JSONExtractString(d.payload, 'ASSIGNED_BY_ID')) as manager_id,
    JSONExtractString(d.payload, 'SOURCE_ID') as source_id,
    JSONExtractString(d.payload, '{{ f.project }}') as project,
    JSONExtractString(d.payload, '{{ f.rating }}') as rating,
    '' as loss_reason,
    if(toUInt64OrZero(JSONExtractString(d.payload, 'COMPANY_ID')) = 0, '',
       concat('bitrix24:company:', JSONExtractString(d.payload, 'COMPANY_ID'))) as company_id,
    if(toUInt64OrZero(JSONExtractString(d.payload, 'CONTACT_ID')) = 0, '',
       concat('bitrix24:contact:', JSONExtractString(d.payload, 'CONTACT_ID'))) as contact_id,
    {% for tag in ['source', 'medium', 'campaign', 'content', 'term'] -%}
    nullIf(trimBoth(JSONExtractString(d.payload, 'UTM_{{ tag | upper }}')), '') as utm_{{ tag }},
    {% endfor -%}
    d._is_deleted = 1 as is_deleted,
    d._loaded_at as loaded_at,
    {{ raw_version_columns(drops_deleted=false, prefix='d.') }}
from {{ raw_versions(source('bitrix24', 'bitrix24__deals'), 'd') }}
where {{ raw_live_rows() }}
