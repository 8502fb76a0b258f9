{{ config(engine='MergeTree()', order_by='(system, person_id)') }}
-- The conformed manager dimension: every CRM user and every telephony employee, each mapped to
-- one manager, named as the CRM names the user. A telephony employee is matched to a CRM user
-- by the `manager_aliases` var (UIS employee id → CRM user id) first, else by name (word
-- order, case and ё ignored); one matched to nobody keeps the telephony name and is listed
-- with match = 'unmatched'.
with crm_users as (
    select crm as system, manager_id, manager_name, {{ name_key('manager_name') }} as name_key
    from ({{ union_crms('users', ['manager_id', 'manager_name'], layer='stg') }})
),
by_name as (
    -- One CRM user per name (the same person in both CRMs has one name anyway): the smallest
    -- id, and that user's own spelling, so every rebuild picks the same one.
    select name_key, chosen.1 as manager_id, chosen.2 as manager_name
    from (
        select name_key, min((manager_id, manager_name)) as chosen
        from crm_users where name_key != '' group by name_key
    ) as per_name
),
employees as (
    select
        if(employee_id != '', concat('uis:', employee_id), concat('uis:name:', employee_name))
            as person_id,
        -- The latest name the PBX gave (of two at one instant, the one latest_key puts last);
        -- a call without one does not unname the employee.
        argMaxIf(employee_name, {{ latest_key('started_at', 'employee_name') }},
                 employee_name != '') as person_name
    from {{ ref('stg_uis__calls') }}
    where employee_id != '' or employee_name != ''
    group by person_id
),
aliases as (
    select concat('uis:', alias.1) as person_id, alias.2 as manager_id
    from (
        select arrayJoin(JSONExtractKeysAndValues(
            '{{ tojson(var("manager_aliases", {})) }}', 'String')) as alias
    ) as configured
)
select system, manager_id as person_id, manager_name as person_name, manager_id,
       ifNull(nullIf(manager_name, ''), 'unknown') as manager, 'crm_user' as match
from crm_users
union all
select
    'uis' as system,
    e.person_id as person_id,
    e.person_name as person_name,
    multiIf(a.manager_id != '', a.manager_id, n.manager_id != '', n.manager_id, NULL)
        as manager_id,
    multiIf(a.manager_id != '', ifNull(nullIf(u.manager_name, ''), 'unknown'),
            n.manager_id != '', n.manager_name,
            ifNull(nullIf(e.person_name, ''), 'unknown')) as manager,
    multiIf(a.manager_id != '', 'alias', n.manager_id != '', 'name', 'unmatched') as match
from employees as e
left join aliases as a on a.person_id = e.person_id
left join by_name as n on n.name_key = {{ name_key('e.person_name') }}
left join crm_users as u on u.manager_id = a.manager_id
