-- Counterparties; folders of the hierarchy are not clients. INN is the key to the CRMs.
select
    concat('onec:', id) as counterparty_id,
    JSONExtractString(payload, 'Description') as counterparty_name,
    nullIf(replaceRegexpAll(JSONExtractString(payload, 'ИНН'), '[^0-9]', ''), '') as inn,
    JSONExtractString(payload, 'Code') as code,
    _is_deleted = 1 or JSONExtractBool(payload, 'DeletionMark') as is_deleted,
    _cursor as data_version
from {{ source('onec', 'onec__counterparties') }} final
where not JSONExtractBool(payload, 'IsFolder')
