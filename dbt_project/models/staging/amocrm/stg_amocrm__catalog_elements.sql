{{ config(materialized='incremental', unique_key='element_id', order_by='element_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Elements of the account's catalogues (products). The price is a custom field of type price
-- (field_code PRICE); a catalogue may have several, and a lead's link names the one it uses
-- (metadata.price_id), so every price field is kept with its id.
select
    concat('amocrm:element:', id) as element_id,
    nullIf(id, '') as source_element_id,
    toString(JSONExtractUInt(payload, 'catalog_id')) as catalog_id,
    JSONExtractString(payload, 'name') as product_name,
    arrayMap(f -> JSONExtractUInt(f, 'field_id'), price_fields) as price_field_ids,
    arrayMap(f -> ifNull({{ json_float("JSONExtractArrayRaw(f, 'values')[1]", "'value'") }}, 0),
             price_fields) as price_values,
    _is_deleted = 1 or JSONExtractBool(payload, 'is_deleted') as is_deleted,
    _loaded_at as loaded_at,
    {{ raw_version_columns(drops_deleted=false) }}
from (
    select
        *,
        arrayFilter(f -> JSONExtractString(f, 'field_type') = 'price'
                    or JSONExtractString(f, 'field_code') = 'PRICE',
                    JSONExtractArrayRaw(payload, 'custom_fields_values')) as price_fields
    from {{ raw_versions(source('amocrm', 'amocrm__catalog_elements')) }}
)
where {{ raw_live_rows() }}
