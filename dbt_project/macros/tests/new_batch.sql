{#- Batch validation of the row-level staging tests.

    A test configured `where: __new_batch__` reads only the rows of its model loaded since the
    last successful gate: the watermark that publish_marts records per staging table in
    raw._gate_watermarks (orchestration/assets/quality.py, expectations/gate.py). Rows older
    than it passed these same tests in a run that was published. Aggregate tests (unique,
    relationships, every_group_has) carry no such `where` and read the whole model.

    Full validation, every row whatever the watermark: a full refresh (`dbt build
    --full-refresh`, the full_refresh job), var gate_validation=full, or the environment
    variable FUNNELHOUSE_GATE_VALIDATION=full; use it after changing a staging model or its
    tests, since the rows below the watermark were checked by the old ones. No watermark yet
    (a new warehouse, a new model): the batch is every row. -#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__new_batch__' in where -%}
        {%- set where = where | replace('__new_batch__', new_batch_condition(relation)) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{% macro gate_validation_mode() -%}
    {%- set mode = var('gate_validation', env_var('FUNNELHOUSE_GATE_VALIDATION', 'batch')) -%}
    {%- if mode not in ('batch', 'full') -%}
        {{ exceptions.raise_compiler_error(
            "gate_validation / FUNNELHOUSE_GATE_VALIDATION is '" ~ mode
            ~ "'; use 'batch' (rows loaded since the last successful gate) or 'full'") }}
    {%- endif -%}
    {{- 'full' if flags.FULL_REFRESH else mode -}}
{%- endmacro %}


{% macro new_batch_condition(relation) -%}
    {%- set marks = none -%}
    {%- if execute and gate_validation_mode() == 'batch' -%}
        {%- set marks = adapter.get_relation(database=none, schema='raw',
                                             identifier='_gate_watermarks') -%}
    {%- endif -%}
    {%- if marks is none -%}
        1 = 1
    {%- else -%}
        loaded_at > (select argMax(loaded_until, recorded_at) from {{ marks }}
                     where relation = '{{ relation.schema }}.{{ relation.identifier }}')
    {%- endif -%}
{%- endmacro %}
