{{ config(materialized='incremental', unique_key='counterparty_id', order_by='counterparty_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Counterparties; folders of the hierarchy are not clients. INN is the key to the CRMs.
select
    concat('onec:', id) as counterparty_id,
    JSONExtractString(payload, 'Description') as counterparty_name,
    nullIf(replaceRegexpAll(JSONExtractString(payload, 'ИНН'), '[^0-9]', ''), '') as inn,
    JSONExtractString(payload, 'Code') as code,
    _is_deleted = 1 or JSONExtractBool(payload, 'DeletionMark') as is_deleted,
    _cursor as data_version,
    {{ raw_version_columns(keep="not JSONExtractBool(payload, 'IsFolder')", drops_deleted=false) }}
from {{ raw_versions(source('onec', 'onec__counterparties')) }}
where {{ raw_live_rows() }}
