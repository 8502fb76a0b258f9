{{ config(materialized='incremental', unique_key='deal_id', order_by='deal_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- amoCRM leads are the deals. Statuses are only unique within a pipeline (142/143 are in
-- every one), so the stage key carries both. Segment fields are custom fields named by vars.
-- The payload is parsed once, into a tuple of the fields read.
{% set f = var('amocrm_lead_fields') %}
with
    JSONExtract(payload, 'Tuple(
        name String, created_at String, updated_at String, closed_at String, price String,
        pipeline_id UInt64, status_id UInt64, responsible_user_id UInt64, is_deleted Bool,
        custom_fields_values Array(Tuple(
            field_name String, field_code String, values Array(Tuple(value String)))),
        _embedded Tuple(
            loss_reason Array(Tuple(name String)), companies Array(Tuple(id UInt64)),
            contacts Array(Tuple(id UInt64)), catalog_elements Array(String)))') as lead,
    arrayMap(x -> x.field_name, lead.custom_fields_values) as field_names,
    arrayMap(x -> x.field_code, lead.custom_fields_values) as field_codes,
    arrayMap(x -> arrayMap(v -> v.value, x.values), lead.custom_fields_values) as field_values
select
    concat('amocrm:', id) as deal_id,
    nullIf(id, '') as source_deal_id,
    lead.name as deal_name,
    assumeNotNull({{ unix_value('lead.created_at') }}) as created_at,
    {{ unix_value('lead.updated_at') }} as updated_at,
    {{ unix_value('lead.closed_at') }} as closed_at,
    ifNull(toFloat64OrNull(lead.price), 0) as amount,
    toString(lead.pipeline_id) as pipeline_id,
    concat('amocrm:', pipeline_id, ':', toString(lead.status_id)) as stage_key,
    concat('amocrm:', toString(lead.responsible_user_id)) as manager_id,
    {% for column in ['source', 'project', 'rating'] -%}
    field_values[indexOf(field_names, '{{ f[column] }}')][1] as {{ column }},
    {% endfor -%}
    tupleElement(lead._embedded.loss_reason[1], 'name') as loss_reason,
    if(length(lead._embedded.companies) = 0, '',
       concat('amocrm:', toString(tupleElement(lead._embedded.companies[1], 'id')))) as company_id,
    arrayMap(c -> concat('amocrm:', toString(c.id)), lead._embedded.contacts) as contact_ids,
    -- UTM tags: tracking-data fields found by field_code (ids and names are per account).
    {% for tag in ['source', 'medium', 'campaign', 'content', 'term'] -%}
    nullIf(trimBoth(arrayFlatten(
        arrayFilter((v, code) -> code = 'UTM_{{ tag | upper }}', field_values, field_codes))[1]),
        '') as utm_{{ tag }},
    {% endfor -%}
    -- Linked products (with=catalog_elements): {id, metadata {quantity, catalog_id, price_id}}.
    lead._embedded.catalog_elements as catalog_elements,
    _is_deleted = 1 or lead.is_deleted as is_deleted,
    _loaded_at as loaded_at,
    {{ raw_version_columns(drops_deleted=false) }}
from {{ raw_versions(source('amocrm', 'amocrm__leads')) }}
where {{ raw_live_rows() }}
