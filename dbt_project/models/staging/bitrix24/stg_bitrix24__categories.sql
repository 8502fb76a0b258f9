-- Deal funnels (crm.category.list); funnel 0 is the default one.
select
    toString(JSONExtractInt(payload, 'id')) as category_id,
    JSONExtractString(payload, 'name') as category_name
from {{ source('bitrix24', 'bitrix24__categories') }} final
