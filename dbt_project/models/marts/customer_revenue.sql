{{ config(engine='MergeTree()', order_by='(period_start, counterparty_id)') }}
-- 1C sales and payments per client and month: new, repeat or reactivated, the first payment
-- after the client's first CRM win (conversion to money), and whether the client has churned
-- (no sale in the last `churn_months` months before as_of).
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
monthly as (
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
history as (
    select
        *,
        lagInFrame(if(sales_documents > 0, toNullable(period_start), NULL)) over (
            partition by counterparty_id order by period_start
            rows between 1 preceding and current row) as previous_month,
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
    multiIf(h.sales_documents = 0, 'payment only',
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
