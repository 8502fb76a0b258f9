select
    concat('onec:', id) as contract_id,
    {{ onec_ref('payload', 'Owner_Key') }} as counterparty_id,
    JSONExtractString(payload, 'Description') as contract_name,
    {{ onec_date('payload', 'Дата') }} as signed_at,
    JSONExtractString(payload, 'ВидДоговора') as contract_kind,
    _is_deleted = 1 or JSONExtractBool(payload, 'DeletionMark') as is_deleted,
    _cursor as data_version
from {{ source('onec', 'onec__contracts') }} final
where not JSONExtractBool(payload, 'IsFolder')
