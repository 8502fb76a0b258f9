{{ config(materialized='ephemeral') }}
-- amoCRM call notes tie a call to a lead by the telephony id they carry (params.uniq).
select telephony_call_id, deal_id
from {{ ref('stg_amocrm__call_notes') }}
