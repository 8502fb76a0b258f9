{#- Bookkeeping shared by the project's materializations (period_replace, key_replace). -#}

{#- A query's first column, as a list (the adapter returns no columns for no rows). -#}
{% macro query_column(sql) %}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values() | list if result.columns | length > 0 else []) }}
{% endmacro %}

{#- The new table built beside the model put in its place: one atomic EXCHANGE where the
    database allows it, else two renames; the old table is left as `backup` to drop. -#}
{% macro swap_in(existing, intermediate, target, backup) %}
    {% if existing is none %}
        {% do adapter.rename_relation(intermediate, target) %}
    {% elif existing.can_exchange %}
        {% do adapter.rename_relation(intermediate, backup) %}
        {% do exchange_tables_atomic(backup, target) %}
    {% else %}
        {% do adapter.rename_relation(target, backup) %}
        {% do adapter.rename_relation(intermediate, target) %}
    {% endif %}
{% endmacro %}
