{{ config(materialized='ephemeral') }}
-- The conformed deals of amoCRM: its leads are the deals.
select deal_id, source_deal_id, created_at, closed_at, amount, stage_key, manager_id, source,
       project, rating, loss_reason, company_id, is_deleted
from {{ ref('stg_amocrm__leads') }}
