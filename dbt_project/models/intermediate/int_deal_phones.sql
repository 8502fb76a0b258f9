{{ config(engine='MergeTree()', order_by='(phone, created_at)') }}
-- The client phones of each deal, with the deal's open interval, for phone attribution.
select p.deal_id as deal_id, p.phone as phone, d.created_at as created_at,
       d.closed_at as closed_at
from (
    {{ union_crms('deal_phones', ['deal_id', 'phone']) }}
) as p
inner join {{ ref('int_deals') }} as d on d.deal_id = p.deal_id
where d.is_deleted = 0 and p.phone != ''
group by deal_id, phone, created_at, closed_at
