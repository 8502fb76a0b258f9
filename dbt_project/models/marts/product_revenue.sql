{{ config(engine='MergeTree()', order_by='(source, product, period_start)') }}
-- Won revenue by the month of the win, source and product (METRICS.md product_revenue). A won
-- deal's amount is split over its product rows by their share of its product amount; a won
-- deal without products counts once under product '(none)', so the revenue of a month adds up
-- to conversion_gross's revenue_won.
-- (won_time, not won_at: a select alias named like the column would shadow it in WHERE)
with won as (
    select deal_id, assumeNotNull(won_at) as won_time, amount, source
    from {{ ref('int_deals') }}
    where is_deleted = 0 and won_at is not null
),
split as (
    select
        w.deal_id as deal_id, w.won_time as won_time, w.source as source, p.product as product,
        p.quantity as quantity, w.amount * p.revenue_share as revenue
    from won as w
    inner join {{ ref('int_deal_products') }} as p on p.deal_id = w.deal_id
    union all
    select deal_id, won_time, source, '(none)', 0, amount
    from won
    where deal_id not in (select deal_id from {{ ref('int_deal_products') }})
)
select
    {{ period_start('won_time', 'month') }} as period_start,
    source,
    product,
    uniqExact(deal_id) as deals_won,
    sum(quantity) as quantity,
    round(sum(revenue), 2) as revenue_won
from split
group by period_start, source, product
