-- Every crm.status.list directory row (deal stages of each funnel, sources, ...).
select
    JSONExtractString(payload, 'ENTITY_ID') as entity_id,
    JSONExtractString(payload, 'STATUS_ID') as status_id,
    JSONExtractString(payload, 'NAME') as name,
    ifNull({{ json_int('payload', "'SORT'") }}, 0) as sort,
    JSONExtractString(payload, 'SEMANTICS') as semantics,
    JSONExtractString(payload, 'EXTRA', 'SEMANTICS') as extra_semantics,
    JSONExtractRaw(payload, 'CATEGORY_ID') as category_raw
from {{ source('bitrix24', 'bitrix24__stages') }} final
