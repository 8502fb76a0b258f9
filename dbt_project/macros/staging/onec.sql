{#- 1C OData payloads: references are GUIDs, dates infobase-local with an empty value. -#}

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
