select
    concat('bitrix24:', id) as manager_id,
    trim(concat(JSONExtractString(payload, 'NAME'), ' ', JSONExtractString(payload, 'LAST_NAME')))
        as manager_name,
    JSONExtractString(payload, 'EMAIL') as email
from {{ source('bitrix24', 'bitrix24__users') }} final
