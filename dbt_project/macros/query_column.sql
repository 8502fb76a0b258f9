{#- A query's first column, as a list, for the materializations' bookkeeping (the adapter
    returns no columns for no rows). -#}
{% macro query_column(sql) %}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values() | list if result.columns | length > 0 else []) }}
{% endmacro %}
