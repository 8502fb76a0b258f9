{{ config(materialized='ephemeral') }}
-- The phones of each lead's contacts and company: how a call without a CRM link finds its deal.
with leads as (
    select deal_id, contact_id, company_id
    from {{ ref('stg_amocrm__leads') }}
    array join if(empty(contact_ids), [''], contact_ids) as contact_id
)
select l.deal_id as deal_id, phone
from leads as l
inner join {{ ref('stg_amocrm__contacts') }} as c on c.contact_id = l.contact_id
array join c.phones as phone
union distinct
select l.deal_id as deal_id, {{ normalize_phone('phone') }} as phone
from leads as l
inner join {{ ref('stg_amocrm__companies') }} as co on co.company_id = l.company_id
array join co.phones as phone
