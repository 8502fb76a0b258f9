-- The stage directory, flattened from pipelines. 142 is won and 143 lost in every pipeline.
select
    concat('amocrm:', toString(JSONExtractUInt(payload, 'id')), ':',
           toString(JSONExtractUInt(s, 'id'))) as stage_key,
    toString(JSONExtractUInt(payload, 'id')) as pipeline_id,
    JSONExtractString(payload, 'name') as pipeline_name,
    JSONExtractString(s, 'name') as stage_name,
    JSONExtractInt(s, 'sort') as stage_sort,
    multiIf(JSONExtractUInt(s, 'id') = 142, 'won', JSONExtractUInt(s, 'id') = 143, 'lost',
            JSONExtractInt(s, 'type') = 1, 'unsorted', 'open') as stage_kind
from {{ source('amocrm', 'amocrm__pipelines') }} final
array join JSONExtractArrayRaw(payload, '_embedded', 'statuses') as s
where _is_deleted = 0
