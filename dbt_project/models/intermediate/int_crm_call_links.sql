-- Calls the CRMs themselves tie to a deal, by the telephony call id they carry.
select telephony_call_id, deal_id, 'amocrm' as crm
from {{ ref('stg_amocrm__call_notes') }}
where telephony_call_id != '' and deal_id != ''
union all
select telephony_call_id, deal_id, 'bitrix24' as crm
from {{ ref('stg_bitrix24__call_links') }}
where telephony_call_id != '' and deal_id != ''
