{{ config(materialized='incremental', unique_key='sale_id', order_by='sale_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Sales documents (shipments): revenue recognised in 1C.
-- Only posted, unmarked documents count; marked or removed ones stay, flagged, for audit.
select
    concat('onec:', id) as sale_id,
    nullIf(id, '') as source_sale_id,
    JSONExtractString(payload, 'Number') as document_number,
    {{ onec_date('payload', 'Date') }} as document_at,
    {{ onec_ref('payload', 'Контрагент_Key') }} as counterparty_id,
    {{ onec_ref('payload', 'ДоговорКонтрагента_Key') }} as contract_id,
    ifNull({{ json_float('payload', "'СуммаДокумента'") }}, 0) as amount,
    JSONExtractBool(payload, 'Posted') as is_posted,
    _is_deleted = 1 or JSONExtractBool(payload, 'DeletionMark') as is_deleted,
    _cursor as data_version,
    _loaded_at as loaded_at,
    {{ raw_version_columns(drops_deleted=false) }}
from {{ raw_versions(source('onec', 'onec__sales')) }}
where {{ raw_live_rows() }}
