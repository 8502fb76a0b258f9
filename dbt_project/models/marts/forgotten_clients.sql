{{ config(engine='MergeTree()', order_by='(manager, client_key)') }}
-- Clients (contacts and companies) nobody has called, written to or met for
-- `forgotten_client_days`, and clients we stopped talking to: a communication in each of the
-- `silent_after_active_months` months before the last `silent_months` full months, none since.
{% set silent = var('silent_months') %}
{% set active = var('silent_after_active_months') %}
with as_of as (
    select as_of, toStartOfMonth({{ local('as_of') }}) as as_of_month from {{ ref('int_as_of') }}
),
touches as (
    select
        m.client_key as client_key,
        sum(m.communications) as communications,
        -- Nullable, so that a client the left join below finds no communication for gets
        -- NULL rather than the type's default (1970-01-01).
        toNullable(max(m.last_communication_at)) as last_communication_at,
        argMax(m.last_channel, m.last_communication_key) as last_channel,
        argMax(m.manager, m.last_communication_key) as last_manager,
        groupUniqArray(m.period_start) as months
    from {{ ref('int_client_months') }} as m
    where m.until_as_of
    group by m.client_key
),
flagged as (
    select
        c.client_key as client_key,
        c.crm as crm,
        c.client_type as client_type,
        c.client_id as client_id,
        c.client_name as client_name,
        c.manager as manager,
        c.deals as deals,
        ifNull(t.communications, 0) as communications,
        t.last_communication_at as last_communication_at,
        t.last_channel as last_channel,
        t.last_manager as last_manager,
        (select as_of from as_of) as as_of,
        (select as_of_month from as_of) as as_of_month,
        ifNull(t.months, []) as months
    from {{ ref('int_clients') }} as c
    left join touches as t on t.client_key = c.client_key
)
select
    client_key,
    crm,
    client_type,
    client_id,
    client_name,
    manager,
    deals,
    communications,
    last_communication_at,
    last_channel,
    last_manager,
    if(last_communication_at is null, NULL,
       toUInt32(intDiv(dateDiff('second', assumeNotNull(last_communication_at), as_of), 86400)))
        as idle_days,
    last_communication_at is null as never_contacted,
    toBool(ifNull(idle_days >= {{ var('forgotten_client_days') }}, false)) as is_forgotten,
    -- Went silent: spoken to in every one of the `active` months before the last `silent`
    -- full months (the current month is not full), and not once since.
    arrayAll(k -> has(months, addMonths(as_of_month, -({{ silent }} + k))),
             range(1, {{ active }} + 1))
        and not arrayExists(m -> m >= addMonths(as_of_month, -{{ silent }}), months)
        as went_silent
from flagged
