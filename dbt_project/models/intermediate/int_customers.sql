{{ config(engine='MergeTree()', order_by='counterparty_id') }}
-- 1C counterparties linked to CRM companies by INN, with the first CRM win of that INN.
with crm as (
    select company_inn as inn, min(won_at) as first_won_at,
           argMin(company_id, created_at) as crm_company_id, count() as crm_deals
    from {{ ref('int_deals') }}
    where company_inn is not null and is_deleted = 0
    group by inn
)
select
    c.counterparty_id as counterparty_id,
    c.counterparty_name as customer_name,
    c.inn as inn,
    nullIf(crm.crm_company_id, '') as crm_company_id,
    crm.first_won_at as first_won_at,
    ifNull(crm.crm_deals, 0) as crm_deals
from {{ ref('stg_onec__counterparties') }} as c
left join crm on crm.inn = c.inn
where not c.is_deleted
