{{ config(materialized='ephemeral') }}
-- The conformed product rows of amoCRM: the catalogue elements a lead links. A link carries a
-- quantity and names a price field of the element (price_id); the unit price is that field's
-- value (else the element's first price), so the amounts need not add up to the budget.
with links as (
    select
        l.deal_id as deal_id,
        concat('amocrm:element:', toString(JSONExtractUInt(e, 'id'))) as element_id,
        ifNull({{ json_float("JSONExtractRaw(e, 'metadata')", "'quantity'") }}, 1) as quantity,
        JSONExtractUInt(e, 'metadata', 'price_id') as price_id,
        row_number() over (partition by l.deal_id order by JSONExtractUInt(e, 'id')) as position
    from {{ ref('stg_amocrm__leads') }} as l
    array join l.catalog_elements as e
)
select
    k.deal_id as deal_id,
    concat(k.deal_id, ':', k.element_id) as product_row_id,
    k.element_id as product_id,
    ifNull(nullIf(c.product_name, ''), 'unknown') as product,
    k.quantity as quantity,
    if(c.element_id = '', 0,
       if(has(c.price_field_ids, k.price_id), c.price_values[indexOf(c.price_field_ids, k.price_id)],
          ifNull(c.price_values[1], 0))) as unit_price,
    quantity * unit_price as amount
from links as k
left join {{ ref('stg_amocrm__catalog_elements') }} as c on c.element_id = k.element_id
