{#- A person's name as a match key: word order, case, extra spaces and ё/е do not matter, so
    'Степанов Иван' (telephony, surname first) meets 'Иван Степанов' (CRM). -#}
{% macro name_key(expr) -%}
    arrayStringConcat(arraySort(splitByWhitespace(
        lowerUTF8(replaceAll(replaceAll({{ expr }}, 'ё', 'е'), 'Ё', 'Е')))), ' ')
{%- endmacro %}
