{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='call_id',
          engine='MergeTree()', order_by='call_id') }}
select call_id, stage_id, talk_seconds, updated_at from {{ ref('calls_view') }}
{% if is_incremental() %}
where updated_at > (select max(updated_at) from {{ this }})
{% endif %}
