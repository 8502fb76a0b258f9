-- The instant the marts describe: the `as_of` var, or the latest event in the loaded data (deal
-- created, stage entered, call started, task or activity created), so
-- that a rebuild of the same data gives the same marts.
select
{% if var('as_of') %}
    toDateTime64('{{ var("as_of") }}', 3, 'UTC') as as_of
{% else %}
    greatest(
        (select max(created_at) from {{ ref('int_deals') }}),
        (select max(valid_from) from {{ ref('int_stage_intervals') }}),
        (select max(started_at) from {{ ref('stg_uis__calls') }}),
        -- Tasks and CRM activities count too: a deal touched after the last call is not idle
        -- for a negative time.
        (select max(happened_at) from (
            {{ union_crms('activities', ['happened_at']) }}
        ))
    ) as as_of
{% endif %}
