select
    concat('amocrm:', id) as loss_reason_id,
    JSONExtractString(payload, 'name') as loss_reason_name
from {{ source('amocrm', 'amocrm__loss_reasons') }} final
