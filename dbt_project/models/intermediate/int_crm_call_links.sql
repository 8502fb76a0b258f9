-- Calls the CRMs themselves tie to a deal, by the telephony call id they carry.
select telephony_call_id, deal_id, crm from (
    {{ union_crms('call_links', ['telephony_call_id', 'deal_id']) }}
)
where telephony_call_id != '' and deal_id != ''
