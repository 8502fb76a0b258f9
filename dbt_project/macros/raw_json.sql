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

{#- 1C reference: the zero GUID is the empty reference → NULL, else 'onec:<guid>'. -#}
{% macro onec_ref(json, key) -%}
    if(JSONExtractString({{ json }}, '{{ key }}') in ('', '00000000-0000-0000-0000-000000000000'),
       NULL, toNullable(concat('onec:', JSONExtractString({{ json }}, '{{ key }}'))))
{%- endmacro %}

{#- 1C date: infobase-local, no offset; 0001-01-01T00:00:00 is the empty date → NULL. -#}
{% macro onec_date(json, key) -%}
    if(startsWith(JSONExtractString({{ json }}, '{{ key }}'), '0001-01-01'), NULL,
       {{ from_local("JSONExtractString(" ~ json ~ ", '" ~ key ~ "')", var('onec_timezone')) }})
{%- endmacro %}

{#- amoCRM custom field value by field name (select fields carry the option text). -#}
{% macro amocrm_field(json, field_name) -%}
    JSONExtractString(
        JSONExtractArrayRaw(
            arrayFirst(f -> JSONExtractString(f, 'field_name') = '{{ field_name }}',
                       JSONExtractArrayRaw({{ json }}, 'custom_fields_values')),
            'values')[1],
        'value')
{%- endmacro %}

{#- amoCRM: every value of the fields with a field_code (PHONE, EMAIL). -#}
{% macro amocrm_field_values(json, field_code) -%}
    arrayMap(v -> JSONExtractString(v, 'value'),
        arrayFlatten(arrayMap(f -> JSONExtractArrayRaw(f, 'values'),
            arrayFilter(f -> JSONExtractString(f, 'field_code') = '{{ field_code }}',
                        JSONExtractArrayRaw({{ json }}, 'custom_fields_values')))))
{%- endmacro %}

{#- Bitrix24 dates carry their offset: ISO 8601 → UTC (NULL when empty). -#}
{% macro from_iso(json, key) -%}
    toTimeZone(parseDateTime64BestEffortOrNull(nullIf(JSONExtractString({{ json }}, '{{ key }}'), ''), 3), 'UTC')
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
