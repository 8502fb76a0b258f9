{{ config(engine='MergeTree()', order_by='(deal_id, product_row_id)') }}
-- Product rows of every CRM's deals with each row's share of its deal: the row's amount over
-- the deal's product amount (equal shares when the rows have no amount). A won deal's revenue
-- is split over its products by these shares (METRICS.md product_revenue).
with product_rows as (
    {{ union_crms('deal_products', ['deal_id', 'product_row_id', 'product_id', 'product',
        'quantity', 'unit_price', 'amount']) }}
)
select
    r.crm as crm,
    r.deal_id as deal_id,
    r.product_row_id as product_row_id,
    r.product_id as product_id,
    r.product as product,
    r.quantity as quantity,
    r.unit_price as unit_price,
    r.amount as amount,
    sum(r.amount) over (partition by r.deal_id) as deal_product_amount,
    count() over (partition by r.deal_id) as deal_product_rows,
    if(deal_product_amount > 0, r.amount / deal_product_amount, 1 / deal_product_rows)
        as revenue_share
from product_rows as r
