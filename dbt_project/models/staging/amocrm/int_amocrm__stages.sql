{{ config(materialized='ephemeral') }}
-- The conformed stage directory of amoCRM (flattened from pipelines in staging).
select stage_key, pipeline_id, pipeline_name, stage_name, stage_sort, stage_kind
from {{ ref('stg_amocrm__pipelines') }}
