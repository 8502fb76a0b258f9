-- The stage directory of both CRMs: one row per stage key, with its pipeline and meaning.
select stage_key, crm, pipeline_id, pipeline_name, stage_name, stage_sort, stage_kind
from {{ ref('stg_amocrm__statuses') }}
union all
select stage_key, crm, pipeline_id, pipeline_name, stage_name, stage_sort, stage_kind
from {{ ref('stg_bitrix24__stages') }}
