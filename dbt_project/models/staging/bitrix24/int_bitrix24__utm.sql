{{ config(materialized='ephemeral') }}
-- The conformed UTM tags of Bitrix24 deals (UTM_* fields of crm.deal.list).
select deal_id, utm_source, utm_medium, utm_campaign, utm_content, utm_term
from {{ ref('stg_bitrix24__deals') }}
