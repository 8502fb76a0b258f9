{#- Row-level checks of the staging models: each returns the rows that break it, so a failure
    names the records. Give them `config: {where: __new_batch__}` on a model with loaded_at to
    validate only the rows loaded since the last successful gate (macros/tests/new_batch.sql). -#}

{#- A value below its lower bound (NULL passes: "absent" is not_null's business). -#}
{% test at_least(model, column_name, minimum) %}
select * from {{ model }} where {{ column_name }} < {{ minimum }}
{% endtest %}

{#- A time after its load (a day of slack for any time zone), or before 2000: a broken clock or
    a defect. Models without a load time compare with now() (`loaded: now()`). -#}
{% test not_in_future(model, column_name, loaded='loaded_at') %}
select * from {{ model }}
where {{ column_name }} > {{ loaded }} + interval 1 day or {{ column_name }} < '2000-01-01'
{% endtest %}

{#- A record does not change or end before it began. This sees a shifted time that still lies
    in the past (a creation time a year late), which not_in_future cannot. -#}
{% test not_after(model, column_name, later) %}
select * from {{ model }} where {{ column_name }} > {{ later }}
{% endtest %}

{#- A Russian INN has 10 digits (organisation) or 12 (individual); the CRM-1C link uses it.
    Staging keeps only the digits of what the source holds, so the length tells. -#}
{% test valid_inn(model, column_name) %}
select * from {{ model }} where {{ column_name }} is not null and length({{ column_name }}) not in (10, 12)
{% endtest %}

{#- An id that carries a system prefix ("amocrm:12", "bitrix24:note:5") has an id after it:
    a record the source sent without one comes out as the bare prefix. -#}
{% test has_source_id(model, column_name) %}
select * from {{ model }}
where replaceRegexpOne(toString({{ column_name }}), '^[a-z0-9]+:([a-z]+:)?', '') = ''
{% endtest %}

{#- Every group holds at least one row meeting `condition` (every pipeline has a won stage):
    returns the rows of the groups that hold none. -#}
{% test every_group_has(model, group_by, condition) %}
select * from {{ model }}
where {{ group_by }} not in (
    select {{ group_by }} from {{ model }} group by {{ group_by }}
    having countIf({{ condition }}) > 0
)
{% endtest %}
