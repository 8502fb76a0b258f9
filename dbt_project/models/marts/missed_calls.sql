{{ config(engine='MergeTree()', order_by='(missed_at, call_id)') }}
-- Every missed inbound call, whether and how fast the client was called back (any later call
-- with that number, within `callback_window_hours`), with the hour, weekday and manager to
-- slice by. Callback rate = avg(called_back); time to callback = callback_minutes.
with missed as (
    select call_id, started_at, client_phone, manager, deal_id, pipeline, source
    from {{ ref('int_calls') }}
    where direction = 'in' and not is_answered
),
later as (
    select call_id, started_at, client_phone, manager, direction, is_answered
    from {{ ref('int_calls') }}
    where client_phone != ''
),
callbacks as (
    select m.call_id as call_id,
           min(l.started_at) as callback_at,
           argMin(l.manager, l.started_at) as callback_by,
           argMin(l.direction, l.started_at) as callback_direction,
           argMin(l.is_answered, l.started_at) as callback_answered
    from missed as m
    inner join later as l on l.client_phone = m.client_phone
    where l.started_at > m.started_at
      and l.started_at <= m.started_at + toIntervalHour({{ var('callback_window_hours') }})
      and (l.direction = 'out' or l.is_answered)
    group by m.call_id
)
select
    m.call_id as call_id,
    m.started_at as missed_at,
    toDate({{ local('m.started_at') }}) as missed_date,
    toHour({{ local('m.started_at') }}) as hour,
    toDayOfWeek({{ local('m.started_at') }}) as weekday,
    weekday >= 6 as is_weekend,
    hour < 9 or hour >= 19 as is_evening,
    m.manager as manager,
    m.client_phone as client_phone,
    m.deal_id as deal_id,
    m.pipeline as pipeline,
    m.source as source,
    c.call_id != '' as called_back,
    if(called_back, toNullable(c.callback_at), NULL) as callback_at,
    if(called_back, dateDiff('second', m.started_at, c.callback_at) / 60, NULL)
        as callback_minutes,
    if(called_back, c.callback_by, NULL) as callback_by,
    if(called_back, c.callback_answered, NULL) as callback_reached_client
from missed as m
left join callbacks as c on c.call_id = m.call_id
