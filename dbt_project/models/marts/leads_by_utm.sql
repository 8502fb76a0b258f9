{{ config(engine='MergeTree()', order_by='(tag, tag_value, period_start)') }}
-- Leads created in a month by the value of each UTM tag and by their source / medium /
-- campaign combination, followed to their wins to date (METRICS.md leads_by_utm). A lead
-- without the tag counts under '(none)', so every tag's values add up to all leads.
{% set tags = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'] %}
with leads as (
    select
        d.created_at as created_at,
        d.won_at as won_at,
        d.amount as amount,
        {% for t in tags -%}
        ifNull(nullIf(u.{{ t }}, ''), '(none)') as {{ t }},
        {% endfor -%}
        if(utm_source = '(none)' and utm_medium = '(none)' and utm_campaign = '(none)', '(none)',
           concat(utm_source, ' / ', utm_medium, ' / ', utm_campaign)) as combination
    from {{ ref('int_deals') }} as d
    left join {{ ref('int_deal_utm') }} as u on u.deal_id = d.deal_id
    where d.is_deleted = 0
)
select
    {{ period_start('created_at', 'month') }} as period_start,
    t.1 as tag,
    t.2 as tag_value,
    count() as leads,
    countIf(won_at is not null) as deals_won,
    sumIf(amount, won_at is not null) as revenue_won,
    {{ safe_div('deals_won', 'leads') }} as conversion
from leads
array join [
    {%- for t in tags %}
    ('{{ t }}', {{ t }}),
    {%- endfor %}
    ('combination', combination)
] as t
group by period_start, tag, tag_value
