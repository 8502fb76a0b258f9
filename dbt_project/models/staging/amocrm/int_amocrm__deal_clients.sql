{{ config(materialized='ephemeral') }}
-- The clients of each lead: its contacts and its company.
select deal_id, 'contact' as client_type, contact_id as client_id
from {{ ref('stg_amocrm__leads') }}
array join contact_ids as contact_id
union all
select deal_id, 'company', company_id
from {{ ref('stg_amocrm__leads') }}
where company_id != ''
