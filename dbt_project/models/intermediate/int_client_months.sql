{{ config(engine='MergeTree()', order_by='(client_key, period_start, manager)') }}
-- Communications per client, local month and manager: the grain of client_communication, and
-- all that forgotten_clients needs (each client's last communication, its channel and manager,
-- the months it was talked to). Both read this roll-up, not the row-level view, which is
-- evaluated once per run, here.
-- `until_as_of` splits a group where communications fall after the `as_of` var (an analysis
-- as of a past instant); forgotten_clients leaves those out.
{#- Communications in the order of latest_key (time, then a hash of the id): one order for a
    client's communications whichever groups they fall in. -#}
{% set last_key = latest_key('happened_at', 'communication_id') %}
select
    client_key,
    toStartOfMonth({{ local('happened_at') }}) as period_start,
    manager,
    happened_at <= (select as_of from {{ ref('int_as_of') }}) as until_as_of,
    count() as communications,
    countIf(channel = 'call') as calls,
    sumIf(talk_seconds, channel = 'call') as talk_seconds,
    countIf(channel = 'meeting') as meetings,
    countIf(channel = 'email') as emails,
    max(happened_at) as last_communication_at,
    max({{ last_key }}) as last_communication_key,
    argMax(channel, {{ last_key }}) as last_channel
from {{ ref('int_client_communications') }}
group by client_key, period_start, manager, until_as_of
