select
    concat('bitrix24:contact:', id) as contact_id,
    trim(concat(JSONExtractString(payload, 'NAME'), ' ', JSONExtractString(payload, 'LAST_NAME')))
        as contact_name,
    arrayFilter(p -> p != '', arrayMap(v -> {{ normalize_phone("JSONExtractString(v, 'VALUE')") }},
        JSONExtractArrayRaw(payload, 'PHONE'))) as phones
from {{ source('bitrix24', 'bitrix24__contacts') }} final
where _is_deleted = 0
