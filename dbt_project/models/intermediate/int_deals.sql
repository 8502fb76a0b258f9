{{ config(engine='MergeTree()', order_by='deal_id') }}
-- One row per lead/deal across amoCRM and Bitrix24 with the attributes every mart slices by.
-- won_at is the first time the deal entered a won stage (from the stage history); a deal in a
-- won stage with no recorded entry falls back to its close time.
with deals as (
    {{ union_crms('deals', ['deal_id', 'source_deal_id', 'created_at', 'closed_at', 'amount',
        'stage_key', 'manager_id', 'source', 'project', 'rating', 'loss_reason', 'company_id',
        'is_deleted']) }}
),
managers as (
    select person_id as manager_id, person_name as manager_name
    from {{ ref('int_managers') }} where match = 'crm_user'
),
companies as (
    {{ union_crms('companies', ['company_id', 'company_name', 'inn'], layer='stg') }}
),
won as (
    select i.deal_id as deal_id, min(i.valid_from) as won_at
    from {{ ref('int_stage_intervals') }} as i
    where i.stage_kind = 'won'
    group by i.deal_id
),
-- The actual close: entering the final stage the deal is still in; the CRM's own close time
-- (staging leaves it NULL where the CRM has none) is the fallback.
closed as (
    select i.deal_id as deal_id, i.valid_from as closed_at
    from {{ ref('int_stage_intervals') }} as i
    where i.valid_to is null and i.stage_kind in ('won', 'lost')
)
select
    d.deal_id as deal_id,
    d.crm as crm,
    d.source_deal_id as source_deal_id,
    d.created_at as created_at,
    ifNull(nullIf(s.pipeline_name, ''), 'unknown') as pipeline,
    d.stage_key as stage_key,
    ifNull(nullIf(s.stage_name, ''), d.stage_key) as stage_name,
    ifNull(nullIf(s.stage_kind, ''), 'unknown') as stage_kind,
    multiIf(s.stage_kind = 'won', 'won', s.stage_kind = 'lost', 'lost', 'open') as status,
    if(w.deal_id != '', toNullable(w.won_at),
       if(s.stage_kind = 'won', d.closed_at, NULL)) as won_at,
    if(s.stage_kind in ('won', 'lost'),
       if(cl.deal_id != '', toNullable(cl.closed_at), d.closed_at), NULL) as closed_at,
    d.amount as amount,
    ifNull(nullIf(m.manager_name, ''), 'unknown') as manager,
    ifNull(nullIf(d.source, ''), 'unknown') as source,
    ifNull(nullIf(d.project, ''), 'unknown') as project,
    ifNull(nullIf(d.rating, ''), 'unknown') as rating,
    if(s.stage_kind = 'lost', ifNull(nullIf(d.loss_reason, ''), 'unknown'), NULL) as loss_reason,
    d.company_id as company_id,
    nullIf(c.inn, '') as company_inn,
    d.is_deleted as is_deleted
from deals as d
left join {{ ref('int_stages') }} as s on s.stage_key = d.stage_key
left join managers as m on m.manager_id = d.manager_id
left join companies as c on c.company_id = d.company_id
left join won as w on w.deal_id = d.deal_id
left join closed as cl on cl.deal_id = d.deal_id
