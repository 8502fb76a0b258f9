{{ config(materialized='incremental', unique_key='payment_id', order_by='payment_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Bank receipts: money received from clients.
-- Only posted, unmarked documents count; marked or removed ones stay, flagged, for audit.
select
    concat('onec:', id) as payment_id,
    nullIf(id, '') as source_payment_id,
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
from {{ raw_versions(source('onec', 'onec__payments')) }}
where {{ raw_live_rows() }}
