-- The stage directory of every CRM: one row per stage key, with its pipeline and meaning.
{{ union_crms('stages', ['stage_key', 'pipeline_id', 'pipeline_name', 'stage_name',
                         'stage_sort', 'stage_kind']) }}
