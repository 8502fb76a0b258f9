{#- A layer's `+schema` is the ClickHouse database name itself (staging, marts, ...), not
    dbt's default `<target>_<schema>`: BI tools and analysts read `marts.*`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
