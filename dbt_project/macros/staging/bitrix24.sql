{#- Bitrix24 dates carry their offset: ISO 8601 → UTC (NULL when empty). -#}
{% macro from_iso(json, key) -%}
    toTimeZone(parseDateTime64BestEffortOrNull(nullIf(JSONExtractString({{ json }}, '{{ key }}'), ''), 3), 'UTC')
{%- endmacro %}
