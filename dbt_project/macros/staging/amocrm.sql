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
