{{ config(materialized='table') }}
-- The conformed stage directory: deal stages of every funnel. DEAL_STAGE is funnel 0,
-- DEAL_STAGE_<n> funnel n (stage ids of non-default funnels carry a C<n>: prefix).
-- S = won, F = lost (APOLOGY is a lost variant).
select
    concat('bitrix24:', s.status_id) as stage_key,
    'bitrix24' as crm,
    if(s.entity_id = 'DEAL_STAGE', '0', replaceOne(s.entity_id, 'DEAL_STAGE_', '')) as pipeline_id,
    ifNull(nullIf(c.category_name, ''), concat('funnel ', pipeline_id)) as pipeline_name,
    s.name as stage_name,
    s.sort as stage_sort,
    multiIf(s.semantics = 'S' or s.extra_semantics = 'success', 'won',
            s.semantics = 'F' or s.extra_semantics in ('failure', 'apology'), 'lost',
            'open') as stage_kind
from {{ ref('stg_bitrix24__stages') }} as s
left join {{ ref('stg_bitrix24__categories') }} as c
    on c.category_id = if(s.entity_id = 'DEAL_STAGE', '0', replaceOne(s.entity_id, 'DEAL_STAGE_', ''))
where startsWith(s.entity_id, 'DEAL_STAGE')
