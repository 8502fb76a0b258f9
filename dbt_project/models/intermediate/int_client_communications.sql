{{ config(materialized='view') }}
-- Every communication with a client (a contact or a company): an answered call from or to
-- one of its phones or on one of its deals, a meeting or an e-mail on one of its deals. A call
-- that reaches a contact and its company counts once for each of them.
-- A view: its one reader is int_client_months, which rolls it up by client, month and
-- manager for both client marts; as a table it was written, sorted and read twice each run.
-- One row per client and communication without a GROUP BY: the branches are disjoint. A
-- client's phones are distinct and its key unique (int_clients), and a call's id is unique
-- (int_calls), so the phone branch holds each (client, call) once; the deal branch adds only
-- the pairs whose phone is not the client's (a call has one deal, int_deal_clients one row per
-- deal and client, each tested); meetings and e-mails have one deal.
-- Deduplicating the union instead took a third of the roll-up's time at scale 100.
with client_phones as (
    select client_key, phone from {{ ref('int_clients') }} array join phones as phone
),
answered_calls as (
    select call_id, started_at, manager, deal_id, client_phone, talk_seconds
    from {{ ref('int_calls') }}
    where is_answered
),
touches as (
    select p.client_key as client_key, c.call_id as communication_id, 'call' as channel,
           c.started_at as happened_at, c.manager as manager, c.talk_seconds as talk_seconds
    from answered_calls as c
    inner join client_phones as p on p.phone = c.client_phone
    union all
    select d.client_key, c.call_id, 'call', c.started_at, c.manager, c.talk_seconds
    from answered_calls as c
    inner join {{ ref('int_deal_clients') }} as d on d.deal_id = c.deal_id
    where (d.client_key, c.client_phone) not in (select client_key, phone from client_phones)
    union all
    select d.client_key, a.activity_id, a.activity_type, a.happened_at, a.manager, 0
    from {{ ref('int_activities') }} as a
    inner join {{ ref('int_deal_clients') }} as d on d.deal_id = a.deal_id
    where a.activity_type in ('meeting', 'email')
)
select client_key, communication_id, channel, happened_at, manager, talk_seconds
from touches
