-- Smoke model for the foundation demo: proves dbt reaches the warehouse and builds a table.
-- The real staging/intermediate/marts layers replace it.
{{ config(engine='MergeTree()', order_by='channel') }}
select
    channel,
    count() as events,
    sum(e.talk_seconds) as talk_seconds,
    round(avg(e.talk_seconds), 1) as avg_talk_seconds
from {{ source('raw', 'smoke_events') }} as e
group by channel
