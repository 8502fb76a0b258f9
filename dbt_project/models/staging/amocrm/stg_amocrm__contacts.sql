select
    concat('amocrm:', id) as contact_id,
    JSONExtractString(payload, 'name') as contact_name,
    arrayFilter(p -> p != '',
        arrayMap(p -> {{ normalize_phone('p') }}, {{ amocrm_field_values('payload', 'PHONE') }}))
        as phones
from {{ source('amocrm', 'amocrm__contacts') }} final
where _is_deleted = 0
