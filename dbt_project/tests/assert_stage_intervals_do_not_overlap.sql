-- A deal is in exactly one stage at every instant after its creation: intervals are
-- non-empty or zero-length, follow one another without gaps or overlaps, only the last is open,
-- and the first starts at the deal's creation.
with ordered as (
    select
        deal_id, valid_from, valid_to,
        leadInFrame(toNullable(valid_from)) over w as next_from,
        row_number() over w as n
    from {{ ref('int_stage_intervals') }}
    window w as (partition by deal_id order by valid_from
                 rows between current row and 1 following)
)
select o.deal_id, o.valid_from, o.valid_to, o.next_from
from ordered as o
left join {{ ref('int_deals') }} as d on d.deal_id = o.deal_id
where (o.valid_to is null) != (o.next_from is null)
   or (o.valid_to is not null and o.valid_to != o.next_from)
   or (o.valid_to is not null and o.valid_to < o.valid_from)
   or (o.n = 1 and o.valid_from != d.created_at)
