-- The instant the marts describe: the `as_of` var, or the latest event in the loaded data, so
-- that a rebuild of the same data gives the same marts.
select
{% if var('as_of') %}
    toDateTime64('{{ var("as_of") }}', 3, 'UTC') as as_of
{% else %}
    greatest(
        (select max(created_at) from {{ ref('int_deals') }}),
        (select max(valid_from) from {{ ref('int_stage_intervals') }}),
        (select max(started_at) from {{ ref('stg_uis__calls') }})
    ) as as_of
{% endif %}
