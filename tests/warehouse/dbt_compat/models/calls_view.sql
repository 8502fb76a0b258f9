{{ config(materialized='view') }}
select id as call_id, stage_id, talk_seconds, updated_at from {{ source('raw', 'calls') }}
