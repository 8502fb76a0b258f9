{{ config(materialized='ephemeral') }}
-- The conformed UTM tags of amoCRM leads (tracking-data fields UTM_*).
select deal_id, utm_source, utm_medium, utm_campaign, utm_content, utm_term
from {{ ref('stg_amocrm__leads') }}
