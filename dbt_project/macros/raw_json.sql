{#- Reading the raw layer: the latest version of each record, fields from its JSON payload. -#}

{#- Canonical Russian phone: 11 digits starting with 7 ('' when it is not a phone). -#}
{% macro normalize_phone(expr) -%}
    multiIf(
        length(replaceRegexpAll({{ expr }}, '[^0-9]', '')) >= 10,
        concat('7', right(replaceRegexpAll({{ expr }}, '[^0-9]', ''), 10)),
        ''
    )
{%- endmacro %}

{#- Unix seconds (number or numeric string) to DateTime64 UTC; 0 / empty → NULL. -#}
{% macro from_unix(json, key) -%}
    if(toInt64OrZero(JSONExtractRaw({{ json }}, '{{ key }}')) > 0,
       toNullable(toDateTime64(toInt64OrZero(JSONExtractRaw({{ json }}, '{{ key }}')), 3, 'UTC')),
       NULL)
{%- endmacro %}

{#- Local time without offset ('YYYY-MM-DD hh:mm:ss' or ISO 'T') in zone `tz` → UTC. -#}
{% macro from_local(expr, tz) -%}
    toTimeZone(parseDateTime64BestEffortOrNull(nullIf({{ expr }}, ''), 3, '{{ tz }}'), 'UTC')
{%- endmacro %}

{#- A number that may arrive as a JSON number or as a numeric string (sources retype fields:
    Bitrix24 sends numbers as strings, amoCRM integrations write "120", 1C Int64 is a string). -#}
{% macro json_float(json, key) -%}
    toFloat64OrNull(trim(BOTH '"' FROM JSONExtractRaw({{ json }}, {{ key }})))
{%- endmacro %}

{% macro json_int(json, key) -%}
    toInt64OrNull(trim(BOTH '"' FROM JSONExtractRaw({{ json }}, {{ key }})))
{%- endmacro %}

{#- An id that may arrive as a JSON number or a string; '' when absent or null. -#}
{% macro json_id(json, key) -%}
    replaceRegexpAll(JSONExtractRaw({{ json }}, '{{ key }}'), '^"|"$|^null$', '')
{%- endmacro %}

{#- The same conversions for a field already extracted as String by a one-pass
    `JSONExtract(payload, 'Tuple(...)')` (a JSON number's text, a string's value, '' for null
    or absent), so a model parses its payload once instead of once per field. -#}
{% macro unix_value(expr) -%}
    if(toInt64OrZero({{ expr }}) > 0, toNullable(toDateTime64(toInt64OrZero({{ expr }}), 3, 'UTC')),
       NULL)
{%- endmacro %}

{% macro iso_value(expr) -%}
    toTimeZone(parseDateTime64BestEffortOrNull(nullIf({{ expr }}, ''), 3), 'UTC')
{%- endmacro %}
