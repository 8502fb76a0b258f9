{{ config(materialized='table', engine='MergeTree()', order_by='stage_name') }}
select s.stage_name, count() as calls, sum(c.talk_seconds) as talk_seconds
from {{ ref('calls_view') }} c
inner join {{ ref('stages') }} s on s.stage_id = c.stage_id
group by s.stage_name
