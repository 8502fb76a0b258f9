select
    concat('amocrm:', id) as manager_id,
    JSONExtractString(payload, 'name') as manager_name,
    JSONExtractString(payload, 'email') as email
from {{ source('amocrm', 'amocrm__users') }} final
