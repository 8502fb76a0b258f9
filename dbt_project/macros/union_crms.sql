{#- One conformed model of every CRM in var('crms') stacked, with the CRM's name in `crm`:
    <layer>_<crm>__<entity>. Each CRM's staging folder gives the same columns, so that
    intermediate models never name a CRM. The int_<crm>__ models are ephemeral: the models
    stacking them then depend on the staging tables themselves, which the raw quality gate
    checks, so Dagster holds them back when a check fails. -#}
{% macro union_crms(entity, columns, layer='int') -%}
    {%- for crm in var('crms') %}
    select '{{ crm }}' as crm, {{ columns | join(', ') }}
    from {{ ref(layer ~ '_' ~ crm ~ '__' ~ entity) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
