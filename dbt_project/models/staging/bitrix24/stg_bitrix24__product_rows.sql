{{ config(materialized='incremental', unique_key='product_row_id', order_by='product_row_id',
          engine='ReplacingMergeTree(_raw_version)') }}
-- Product rows (crm.item.productrow.list): camelCase, numbers as JSON numbers. Only deal rows
-- (ownerType D) are asked for; the owner type is kept so staging can say so.
select
    concat('bitrix24:row:', id) as product_row_id,
    nullIf(id, '') as source_row_id,
    JSONExtractString(payload, 'ownerType') as owner_type,
    concat('bitrix24:', {{ json_id('payload', 'ownerId') }}) as deal_id,
    concat('bitrix24:product:', {{ json_id('payload', 'productId') }}) as product_id,
    JSONExtractString(payload, 'productName') as product_name,
    ifNull({{ json_float('payload', "'price'") }}, 0) as price,
    ifNull({{ json_float('payload', "'quantity'") }}, 0) as quantity,
    ifNull({{ json_int('payload', "'sort'") }}, 0) as sort,
    _is_deleted = 1 as is_deleted,
    _loaded_at as loaded_at,
    {{ raw_version_columns(drops_deleted=false) }}
from {{ raw_versions(source('bitrix24', 'bitrix24__product_rows')) }}
where {{ raw_live_rows() }}
