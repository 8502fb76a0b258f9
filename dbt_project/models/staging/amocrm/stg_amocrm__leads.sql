-- amoCRM leads are the deals. Statuses are only unique within a pipeline (142/143 are in
-- every one), so the stage key carries both. Segment fields are custom fields named by vars.
{% set f = var('amocrm_lead_fields') %}
select
    concat('amocrm:', id) as deal_id,
    nullIf(id, '') as source_deal_id,
    JSONExtractString(payload, 'name') as deal_name,
    assumeNotNull({{ from_unix('payload', 'created_at') }}) as created_at,
    {{ from_unix('payload', 'updated_at') }} as updated_at,
    {{ from_unix('payload', 'closed_at') }} as closed_at,
    ifNull({{ json_float('payload', "'price'") }}, 0) as amount,
    toString(JSONExtractUInt(payload, 'pipeline_id')) as pipeline_id,
    concat('amocrm:', pipeline_id, ':', toString(JSONExtractUInt(payload, 'status_id'))) as stage_key,
    concat('amocrm:', toString(JSONExtractUInt(payload, 'responsible_user_id'))) as manager_id,
    {{ amocrm_field('payload', f.source) }} as source,
    {{ amocrm_field('payload', f.project) }} as project,
    {{ amocrm_field('payload', f.rating) }} as rating,
    JSONExtractString(JSONExtractArrayRaw(payload, '_embedded', 'loss_reason')[1], 'name')
        as loss_reason,
    if(length(JSONExtractArrayRaw(payload, '_embedded', 'companies')) = 0, '',
       concat('amocrm:', toString(JSONExtractUInt(
           JSONExtractArrayRaw(payload, '_embedded', 'companies')[1], 'id')))) as company_id,
    arrayMap(c -> concat('amocrm:', toString(JSONExtractUInt(c, 'id'))),
             JSONExtractArrayRaw(payload, '_embedded', 'contacts')) as contact_ids,
    -- UTM tags: tracking-data fields found by field_code (ids and names are per account).
    {% for tag in ['source', 'medium', 'campaign', 'content', 'term'] -%}
    nullIf(trimBoth({{ amocrm_field_values('payload', 'UTM_' ~ tag | upper) }}[1]), '') as utm_{{ tag }},
    {% endfor -%}
    -- Linked products (with=catalog_elements): {id, metadata {quantity, catalog_id, price_id}}.
    JSONExtractArrayRaw(payload, '_embedded', 'catalog_elements') as catalog_elements,
    _is_deleted = 1 or JSONExtractBool(payload, 'is_deleted') as is_deleted,
    _loaded_at as loaded_at
from {{ source('amocrm', 'amocrm__leads') }} final
