{{ config(materialized='ephemeral') }}
-- The conformed product rows of Bitrix24 deals: each row has its own price (after discount),
-- so the amounts add up to the deal amount when it is computed from its products.
select
    deal_id, product_row_id, product_id,
    ifNull(nullIf(product_name, ''), 'unknown') as product,
    quantity, price as unit_price, quantity * price as amount
from {{ ref('stg_bitrix24__product_rows') }}
where owner_type = 'D' and not is_deleted
