{{ config(engine='MergeTree()', order_by='client_key') }}
-- Every client of every CRM, contacts and companies alike, with normalized phones and the
-- responsible manager of its latest live deal (else unknown).
with clients as (
    select crm, 'contact' as client_type, contact_id as client_id, contact_name as client_name,
           phones
    from ({{ union_crms('contacts', ['contact_id', 'contact_name', 'phones'], layer='stg') }})
    union all
    select crm, 'company', company_id, company_name,
           arrayFilter(p -> p != '', arrayMap(p -> {{ normalize_phone('p') }}, phones))
    from ({{ union_crms('companies', ['company_id', 'company_name', 'phones'], layer='stg') }})
),
owners as (
    select c.client_key as client_key, argMax(d.manager, (d.created_at, d.deal_id)) as manager,
           count() as deals
    from {{ ref('int_deal_clients') }} as c
    inner join {{ ref('int_deals') }} as d on d.deal_id = c.deal_id
    where d.is_deleted = 0
    group by client_key
)
select
    concat(c.client_type, '|', c.client_id) as client_key,
    c.crm as crm,
    c.client_type as client_type,
    c.client_id as client_id,
    ifNull(nullIf(c.client_name, ''), 'unknown') as client_name,
    arrayDistinct(c.phones) as phones,
    ifNull(nullIf(o.manager, ''), 'unknown') as manager,
    o.deals as deals
from clients as c
left join owners as o on o.client_key = concat(c.client_type, '|', c.client_id)
