{{ config(engine='MergeTree()', order_by='(period_start, counterparty_id)') }}
-- 1C sales and payments per client and month: new, repeat or reactivated, the first payment
-- after the client's first CRM win (conversion to money), and churn: a 'churned' row in the
-- month a client's gap since its last sale passes `churn_months`, and is_churned as of as_of.
with as_of as (
    select as_of from {{ ref('int_as_of') }}
),
docs as (
    select counterparty_id, document_at, amount, 'sale' as kind
    from {{ ref('stg_onec__sales') }}
    where is_posted and not is_deleted and counterparty_id is not null and document_at is not null
    union all
    select counterparty_id, document_at, amount, 'payment'
    from {{ ref('stg_onec__payments') }}
    where is_posted and not is_deleted and counterparty_id is not null and document_at is not null
),
documents as (
    select
        assumeNotNull(counterparty_id) as counterparty_id,
        toStartOfMonth({{ local('assumeNotNull(document_at)') }}) as period_start,
        sumIf(amount, kind = 'sale') as sales_amount,
        countIf(kind = 'sale') as sales_documents,
        sumIf(amount, kind = 'payment') as payments_amount,
        countIf(kind = 'payment') as payments
    from docs
    group by counterparty_id, period_start
),
-- A client churns in the first month that ends a gap of more than churn_months since its last
-- sale (last sale month + churn_months + 1), unless it buys again in that very month
-- (then it is reactivated there); only months up to as_of's month.
churn as (
    select counterparty_id, churn_month as period_start
    from (
        select counterparty_id,
               addMonths(period_start, {{ var('churn_months') }} + 1) as churn_month,
               leadInFrame(toNullable(period_start)) over (
                   partition by counterparty_id order by period_start
                   rows between current row and 1 following) as next_sale_month
        from documents where sales_documents > 0
    )
    where (next_sale_month is null or churn_month < next_sale_month)
      and churn_month <= toStartOfMonth(
          toDate((select as_of from as_of), '{{ var("business_timezone") }}'))
),
monthly as (
    select counterparty_id, period_start, sum(sales_amount) as sales_amount,
           sum(sales_documents) as sales_documents, sum(payments_amount) as payments_amount,
           sum(payments) as payments, max(churned) as churned
    from (
        select *, 0 as churned from documents
        union all
        select counterparty_id, period_start, 0, 0, 0, 0, 1 from churn
    ) as documents_and_churn
    group by counterparty_id, period_start
),
history as (
    select
        *,
        max(if(sales_documents > 0, toNullable(period_start), NULL)) over (
            partition by counterparty_id order by period_start
            rows between unbounded preceding and 1 preceding) as previous_month,
        min(if(sales_documents > 0, period_start, toDate('2149-01-01'))) over (
            partition by counterparty_id) as first_sale_month,
        max(if(sales_documents > 0, period_start, toDate('1970-01-01'))) over (
            partition by counterparty_id) as last_sale_month
    from monthly
),
first_payment as (
    select d.counterparty_id as counterparty_id, min(d.document_at) as first_payment_at
    from docs as d
    inner join {{ ref('int_customers') }} as c on c.counterparty_id = d.counterparty_id
    where d.kind = 'payment' and c.first_won_at is not null and d.document_at >= c.first_won_at
    group by counterparty_id
)
select
    h.counterparty_id as counterparty_id,
    c.customer_name as customer_name,
    c.inn as inn,
    c.crm_company_id as crm_company_id,
    h.period_start as period_start,
    h.sales_amount as sales_amount,
    h.sales_documents as sales_documents,
    h.payments_amount as payments_amount,
    h.payments as payments,
    multiIf(h.churned = 1 and h.sales_documents = 0, 'churned',
            h.sales_documents = 0, 'payment only',
            h.period_start = h.first_sale_month, 'new',
            h.previous_month is not null
                and dateDiff('month', assumeNotNull(h.previous_month), h.period_start)
                    > {{ var('churn_months') }}, 'reactivated',
            'repeat') as customer_status,
    c.first_won_at as first_won_at,
    fp.first_payment_at as first_payment_after_won_at,
    if(fp.first_payment_at is null, NULL,
       dateDiff('second', assumeNotNull(c.first_won_at), assumeNotNull(fp.first_payment_at)) / 86400)
        as days_won_to_payment,
    h.last_sale_month as last_sale_month,
    dateDiff('month', h.last_sale_month,
             toStartOfMonth(toDate((select as_of from as_of), '{{ var("business_timezone") }}')))
        > {{ var('churn_months') }} as is_churned
from history as h
left join {{ ref('int_customers') }} as c on c.counterparty_id = h.counterparty_id
left join first_payment as fp on fp.counterparty_id = h.counterparty_id
