{{ config(materialized='incremental', unique_key='task_id', order_by='task_id',
          engine='ReplacingMergeTree(_raw_version)') }}
select
    concat('amocrm:task:', id) as task_id,
    concat('amocrm:', toString(JSONExtractUInt(payload, 'responsible_user_id'))) as manager_id,
    JSONExtractString(payload, 'entity_type') as entity_type,
    if(JSONExtractString(payload, 'entity_type') = 'leads',
       concat('amocrm:', toString(JSONExtractUInt(payload, 'entity_id'))), NULL) as deal_id,
    JSONExtractUInt(payload, 'task_type_id') as task_type_id,
    JSONExtractBool(payload, 'is_completed') as is_completed,
    assumeNotNull({{ from_unix('payload', 'created_at') }}) as created_at,
    {{ from_unix('payload', 'complete_till') }} as complete_till,
    {{ raw_version_columns() }}
from {{ raw_versions(source('amocrm', 'amocrm__tasks')) }}
where {{ raw_live_rows() }}
