{{ config(engine='MergeTree()', order_by='(period_start, pipeline, loss_reason)') }}
-- Lost deals by reason, the stage they were lost at (the stage before the lost one), manager,
-- source and month of the loss.
with lost as (
    select
        i.deal_id as deal_id,
        i.valid_from as lost_at,
        lagInFrame(i.stage_name) over (
            partition by i.deal_id order by i.valid_from
            rows between 1 preceding and current row) as previous_stage,
        row_number() over (partition by i.deal_id order by i.valid_from) as n,
        i.stage_kind as stage_kind
    from {{ ref('int_stage_intervals') }} as i
)
select
    toStartOfMonth({{ local('l.lost_at') }}) as period_start,
    d.pipeline as pipeline,
    if(l.n = 1, '(created lost)', l.previous_stage) as lost_at_stage,
    ifNull(d.loss_reason, 'unknown') as loss_reason,
    d.manager as manager,
    d.source as source,
    d.project as project,
    count() as lost_deals,
    sum(d.amount) as lost_amount
from lost as l
inner join {{ ref('int_deals') }} as d on d.deal_id = l.deal_id
where l.stage_kind = 'lost' and d.status = 'lost' and d.is_deleted = 0
  and l.lost_at = d.closed_at
group by period_start, pipeline, lost_at_stage, loss_reason, manager, source, project
