{{ config(materialized='ephemeral') }}
-- The phones of each deal's contact and company.
select d.deal_id as deal_id, phone
from {{ ref('stg_bitrix24__deals') }} as d
inner join {{ ref('stg_bitrix24__contacts') }} as c on c.contact_id = d.contact_id
array join c.phones as phone
union distinct
select d.deal_id as deal_id, phone
from {{ ref('stg_bitrix24__deals') }} as d
inner join {{ ref('stg_bitrix24__companies') }} as co on co.company_id = d.company_id
array join co.phones as phone
