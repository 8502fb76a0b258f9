{{ config(materialized='incremental', unique_key='contract_id', order_by='contract_id',
          engine='ReplacingMergeTree(_raw_version)') }}
select
    concat('onec:', id) as contract_id,
    {{ onec_ref('payload', 'Owner_Key') }} as counterparty_id,
    JSONExtractString(payload, 'Description') as contract_name,
    {{ onec_date('payload', 'Дата') }} as signed_at,
    JSONExtractString(payload, 'ВидДоговора') as contract_kind,
    _is_deleted = 1 or JSONExtractBool(payload, 'DeletionMark') as is_deleted,
    _cursor as data_version,
    {{ raw_version_columns(keep="not JSONExtractBool(payload, 'IsFolder')", drops_deleted=false) }}
from {{ raw_versions(source('onec', 'onec__contracts')) }}
where {{ raw_live_rows() }}
