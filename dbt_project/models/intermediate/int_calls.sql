{{ config(
    materialized='key_replace',
    unique_key='call_id',
    input_keys={'stg_uis__calls': 'call_id', 'int_crm_call_links': 'telephony_call_id',
                'int_deal_phones': 'phone', 'int_deals': 'deal_id',
                'int_stage_intervals': 'deal_id', 'int_managers': 'person_id'},
    engine='MergeTree()',
    order_by='(started_at, call_id)',
    query_settings={'min_insert_block_size_rows': 262144, 'min_insert_block_size_bytes': 67108864},
) }}
-- The insert writes its rows in blocks of 256 Ki rows (64 MiB) instead of ClickHouse's 1 Mi
-- (256 MiB): while the joins' tables are held, the larger blocks in flight made this model the
-- peak of a full build (scale 100: 5.4-5.5 GB for the model alone, 4.4-4.6 GB with these).
-- Every call once (telephony is the complete record), attributed to a deal and to the deal's
-- stage at the call's start (METRICS.md "Call", "Stage at call"):
--   1. the CRM's own link (an amoCRM call note or a Bitrix24 call activity names the call id);
--   2. else the client's phone, to the deal open at call time (the newest if several, the
--      greatest id among deals created in the same second);
--   3. else no deal.
-- A deal deleted, closed or reassigned changes the attribution of calls of any age, so an
-- hourly run recomputes the calls whose inputs changed, whatever their age
-- (macros/key_replace.sql): new and changed calls, calls whose CRM links or phone's deals
-- changed, calls of an operator whose CRM user changed, calls attributed to a changed deal or
-- one whose stages changed, and calls a CRM links to a changed deal (restored or deleted:
-- the link rule may now take or leave it). Not partitioned: no
-- reader prunes by month (periods are cut in local time; the sort key serves time ranges),
-- and writing 24+ monthly parts cost a third of the model's time (scale 10, 2.5 s vs 1.6 s).
{%- set employee_key -%}
    multiIf(employee_id != '', concat('uis:', employee_id),
            employee_name != '', concat('uis:name:', employee_name), '')
{%- endset %}
with calls as (
    select call_id, telephony_call_id, started_at, direction, is_answered, talk_seconds,
           wait_seconds, client_phone, {{ employee_key }} as employee_key
    from {{ ref('stg_uis__calls') }}
    {% call changes_only(rows_of=ref('stg_uis__calls')) -%}
        {{ key_changed('call_id', 'stg_uis__calls') }}
        or {{ key_changed('telephony_call_id', 'int_crm_call_links') }}
        or {{ key_changed('client_phone', 'int_deal_phones') }}
        or {{ key_changed(employee_key, 'int_managers') }}
        or call_id in (select call_id from {{ this }}
                       where {{ key_changed('deal_id', 'int_deals') }}
                          or {{ key_changed('deal_id', 'int_stage_intervals') }})
        or telephony_call_id in (select telephony_call_id from {{ ref('int_crm_call_links') }}
                                 where {{ key_changed('deal_id', 'int_deals') }})
    {%- endcall %}
),
-- A CRM may still link a call to a deal it has since deleted (amoCRM keeps restorable deals
-- with is_deleted, Bitrix24 keeps the call record of a deal deleted outright): such links are
-- ignored and the call falls back to the phone rule, which sees only live deals.
crm_links as (
    select l.telephony_call_id as telephony_call_id, min(l.deal_id) as deal_id
    from {{ ref('int_crm_call_links') }} as l
    inner join {{ ref('int_deals') }} as d on d.deal_id = l.deal_id
    where d.is_deleted = 0
        {% call changes_only('and') %}l.telephony_call_id in (select telephony_call_id from calls){% endcall %}
    group by l.telephony_call_id
),
-- Only the calls no CRM links to a live deal: the phone rule decides nothing for the others
-- (most calls, at scale 100 8.0 M of 9.2 M), and matching them too made its join and
-- grouping the costliest part of the model.
phone_match as (
    select c.call_id as call_id, argMax(p.deal_id, (p.created_at, p.deal_id)) as deal_id
    from calls as c
    inner join {{ ref('int_deal_phones') }} as p on p.phone = c.client_phone
    where c.telephony_call_id not in (select telephony_call_id from crm_links)
      and p.created_at <= c.started_at
      and (p.closed_at is null or c.started_at < p.closed_at)
    group by c.call_id
),
attributed as (
    select
        c.call_id as call_id, c.telephony_call_id as telephony_call_id,
        c.started_at as started_at, c.direction as direction, c.is_answered as is_answered,
        c.talk_seconds as talk_seconds, c.wait_seconds as wait_seconds,
        c.client_phone as client_phone, c.employee_key as employee_key,
        multiIf(l.deal_id != '', l.deal_id, m.deal_id != '', m.deal_id, '') as deal_id,
        multiIf(l.deal_id != '', 'crm_link', m.deal_id != '', 'phone', 'none') as attribution
    from calls as c
    left join crm_links as l on l.telephony_call_id = c.telephony_call_id
    left join phone_match as m on m.call_id = c.call_id
),
operators as (
    select person_id, manager from {{ ref('int_managers') }} where system = 'uis'
),
staged as (
    select
        a.call_id as call_id, a.telephony_call_id as telephony_call_id,
        a.started_at as started_at, a.direction as direction, a.is_answered as is_answered,
        a.talk_seconds as talk_seconds, a.wait_seconds as wait_seconds,
        a.client_phone as client_phone, a.employee_key as employee_key,
        a.deal_id as deal_id, a.attribution as attribution,
        i.deal_id as interval_deal_id,
        i.stage_name as interval_stage,
        i.stage_kind as interval_stage_kind
    from attributed as a
    asof left join {{ ref('int_stage_intervals') }} as i
        on a.deal_id = i.deal_id and a.started_at >= i.valid_from
)
select
    s.call_id as call_id,
    s.telephony_call_id as telephony_call_id,
    s.started_at as started_at,
    s.direction as direction,
    s.is_answered as is_answered,
    s.talk_seconds as talk_seconds,
    s.wait_seconds as wait_seconds,
    s.client_phone as client_phone,
    nullIf(s.deal_id, '') as deal_id,
    s.attribution as attribution,
    -- Who a call belongs to (METRICS.md "Call"): the operator who talked (the telephony
    -- employee, conformed to the CRM user), else the responsible manager of its deal.
    nullIf(o.manager, '') as operator,
    if(s.deal_id = '', '(none)', d.manager) as deal_manager,
    multiIf(o.manager != '', o.manager, s.deal_id != '', d.manager, 'unknown') as manager,
    -- A call without a deal has no pipeline, source, project or rating: '(none)', unlike a
    -- deal that lacks one ('unknown').
    if(s.deal_id = '', '(none)', d.pipeline) as pipeline,
    multiIf(s.deal_id = '', '(no deal)', s.interval_deal_id = '', 'before deal',
            s.interval_stage) as stage,
    multiIf(s.deal_id = '', 'none', s.interval_deal_id = '', 'before', s.interval_stage_kind)
        as stage_kind,
    if(s.deal_id = '', '(none)', d.source) as source,
    if(s.deal_id = '', '(none)', d.project) as project,
    if(s.deal_id = '', '(none)', d.rating) as rating
from staged as s
left join {{ ref('int_deals') }} as d on d.deal_id = s.deal_id
left join operators as o on o.person_id = s.employee_key
