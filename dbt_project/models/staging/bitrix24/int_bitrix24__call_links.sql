{{ config(materialized='ephemeral') }}
-- A Bitrix24 call is tied to a deal through its CRM activity (deals are never a call's
-- CRM_ENTITY_TYPE): call → CRM_ACTIVITY_ID → activity owned by the deal.
select c.telephony_call_id as telephony_call_id, a.deal_id as deal_id
from {{ ref('stg_bitrix24__calls') }} as c
inner join {{ ref('stg_bitrix24__activities') }} as a on a.activity_id = c.crm_activity_id
where a.deal_id != ''
