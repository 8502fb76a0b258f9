{{ config(engine='MergeTree()', order_by='(period_start, manager)') }}
-- Plan (the manager_plans seed, a spreadsheet export) against won revenue and deals per
-- manager and month. Managers with a plan and no wins show 0 done; wins without a plan show
-- a NULL plan.
with plans as (
    select
        trim(`Менеджер`) as manager,
        toDate(parseDateTime(concat('01.', trim(`Месяц`)), '%d.%m.%Y')) as period_start,
        toFloat64OrZero(replaceRegexpAll(`План выручки`, '[^0-9.]', '')) as plan_revenue,
        toUInt64OrZero(replaceRegexpAll(`План сделок`, '[^0-9]', '')) as plan_deals
    from {{ ref('manager_plans') }}
),
facts as (
    select manager, toStartOfMonth({{ local('assumeNotNull(won_at)') }}) as period_start,
           count() as won_deals, sum(amount) as won_revenue
    from {{ ref('int_deals') }}
    where won_at is not null and is_deleted = 0
    group by manager, period_start
)
select
    if(p.manager != '', p.manager, f.manager) as manager,
    if(p.manager != '', p.period_start, f.period_start) as period_start,
    if(p.manager != '', toNullable(p.plan_revenue), NULL) as plan_revenue,
    if(p.manager != '', toNullable(p.plan_deals), NULL) as plan_deals,
    f.won_revenue as won_revenue,
    f.won_deals as won_deals,
    {{ safe_div('f.won_revenue', 'plan_revenue') }} as revenue_done,
    {{ safe_div('f.won_deals', 'plan_deals') }} as deals_done
from plans as p
full outer join facts as f on f.manager = p.manager and f.period_start = p.period_start
