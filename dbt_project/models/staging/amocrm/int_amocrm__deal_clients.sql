{{ config(materialized='ephemeral') }}
-- The clients of each lead: its contacts and its company, each once (a lead's embedded
-- contacts are a list the API does not promise to be distinct; int_client_communications
-- relies on one row per deal and client).
select deal_id, 'contact' as client_type, contact_id as client_id
from {{ ref('stg_amocrm__leads') }}
array join arrayDistinct(contact_ids) as contact_id
union all
select deal_id, 'company', company_id
from {{ ref('stg_amocrm__leads') }}
where company_id != ''
