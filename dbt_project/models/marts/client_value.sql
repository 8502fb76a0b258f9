{{ config(engine='MergeTree()', order_by='ltv_rank') }}
-- What each 1C client is worth over its whole life: revenue of posted, unmarked sales up to
-- as_of, first and last sale, payments, its rank and share, and the CRM source that brought
-- it (the source of the earliest CRM deal of its INN).
with as_of as (
    select as_of from {{ ref('int_as_of') }}
),
sales as (
    select
        assumeNotNull(counterparty_id) as counterparty_id,
        sum(amount) as lifetime_revenue,
        count() as sales_documents,
        min(document_at) as first_sale_at,
        max(document_at) as last_sale_at,
        uniqExact(toStartOfMonth({{ local('assumeNotNull(document_at)') }})) as months_with_sales
    from {{ ref('stg_onec__sales') }}
    where is_posted and not is_deleted and counterparty_id is not null
      and document_at <= (select as_of from as_of)
    group by counterparty_id
),
payments as (
    select assumeNotNull(counterparty_id) as counterparty_id, sum(amount) as lifetime_payments
    from {{ ref('stg_onec__payments') }}
    where is_posted and not is_deleted and counterparty_id is not null
      and document_at <= (select as_of from as_of)
    group by counterparty_id
),
acquisition as (
    select company_inn as inn, argMin(source, (created_at, deal_id)) as acquisition_source
    from {{ ref('int_deals') }}
    where company_inn is not null and is_deleted = 0
    group by inn
),
ranked as (
    select
        *,
        row_number() over w as ltv_rank,
        sum(lifetime_revenue) over (w rows between unbounded preceding and current row)
            as cumulative_revenue,
        -- In the ranking's fixed order: a sum of fractions depends on the order of its terms.
        sum(lifetime_revenue) over (w rows between unbounded preceding and unbounded following)
            as all_revenue
    from sales
    window w as (order by lifetime_revenue desc, counterparty_id asc)
)
select
    s.counterparty_id as counterparty_id,
    c.customer_name as customer_name,
    c.inn as inn,
    c.crm_company_id as crm_company_id,
    ifNull(nullIf(a.acquisition_source, ''), 'unknown') as acquisition_source,
    s.lifetime_revenue as lifetime_revenue,
    ifNull(p.lifetime_payments, 0) as lifetime_payments,
    s.sales_documents as sales_documents,
    s.lifetime_revenue / s.sales_documents as average_sale,
    s.months_with_sales as months_with_sales,
    s.first_sale_at as first_sale_at,
    s.last_sale_at as last_sale_at,
    c.first_won_at as first_won_at,
    s.ltv_rank as ltv_rank,
    {{ safe_div('s.lifetime_revenue', 's.all_revenue') }} as revenue_share,
    {{ safe_div('s.cumulative_revenue', 's.all_revenue') }} as cumulative_share,
    s.ltv_rank <= {{ var('top_clients') }} as is_top_client
from ranked as s
left join {{ ref('int_customers') }} as c on c.counterparty_id = s.counterparty_id
left join payments as p on p.counterparty_id = s.counterparty_id
left join acquisition as a on a.inn = c.inn
