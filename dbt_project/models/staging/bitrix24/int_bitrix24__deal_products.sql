{{ config(materialized='view') }}
-- The conformed product rows of Bitrix24 deals: each row has its own price (after discount),
-- so the amounts add up to the deal amount when it is computed from its products. A deal's
-- rows are read whole each time the deal changes, so a row an earlier read had and the
-- latest read lacks was removed from the deal: only the latest read of each deal counts.
with product_rows as (
    select * from {{ ref('stg_bitrix24__product_rows') }}
    where owner_type = 'D' and not is_deleted
),
latest as (
    select deal_id, max(loaded_at) as loaded_at from product_rows group by deal_id
)
select
    r.deal_id as deal_id, r.product_row_id as product_row_id, r.product_id as product_id,
    ifNull(nullIf(r.product_name, ''), 'unknown') as product,
    r.quantity as quantity, r.price as unit_price, r.quantity * r.price as amount
from product_rows as r
inner join latest as l on l.deal_id = r.deal_id and l.loaded_at = r.loaded_at
