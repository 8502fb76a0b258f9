{{ config(materialized='ephemeral') }}
-- The conformed deals of Bitrix24: the source named by its SOURCE directory entry (else its
-- id). The close stays NULL here (CLOSEDATE is only a plan): the stage history decides it.
with sources as (
    select status_id, name from {{ ref('stg_bitrix24__stages') }} where entity_id = 'SOURCE'
)
select
    d.deal_id as deal_id, d.source_deal_id as source_deal_id, d.created_at as created_at,
    d.closed_at as closed_at, d.amount as amount, d.stage_key as stage_key,
    d.manager_id as manager_id, ifNull(nullIf(s.name, ''), d.source_id) as source,
    d.project as project, d.rating as rating, d.loss_reason as loss_reason,
    d.company_id as company_id, d.is_deleted as is_deleted
from {{ ref('stg_bitrix24__deals') }} as d
left join sources as s on s.status_id = d.source_id
