{{ config(materialized='incremental', incremental_strategy='append',
          engine='MergeTree()', order_by='(call_id, updated_at)') }}
select call_id, talk_seconds, updated_at from {{ ref('calls_view') }}
{% if is_incremental() %}
where updated_at > (select max(updated_at) from {{ this }})
{% endif %}
