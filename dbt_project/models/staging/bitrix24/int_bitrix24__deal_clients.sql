{{ config(materialized='ephemeral') }}
-- The clients of each deal: its (primary) contact and its company.
select deal_id, 'contact' as client_type, contact_id as client_id
from {{ ref('stg_bitrix24__deals') }}
where contact_id != ''
union all
select deal_id, 'company', company_id
from {{ ref('stg_bitrix24__deals') }}
where company_id != ''
