{{ config(engine='MergeTree()', order_by='deal_id') }}
-- Each lead's UTM tags, every CRM stacked; a tag the lead lacks is NULL (never '').
select
    crm, deal_id,
    nullIf(utm_source, '') as utm_source,
    nullIf(utm_medium, '') as utm_medium,
    nullIf(utm_campaign, '') as utm_campaign,
    nullIf(utm_content, '') as utm_content,
    nullIf(utm_term, '') as utm_term
from (
    {{ union_crms('utm', ['deal_id', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content',
        'utm_term']) }}
)
