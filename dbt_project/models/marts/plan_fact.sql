{{ config(engine='MergeTree()', order_by='(period_start, manager)') }}
-- Plan (the manager_plans seed, a spreadsheet export) against won revenue and deals per
-- manager and month, and the bonus earned under the manager_bonus_rules seed (own row, else
-- the `*` row): nothing below the minimum plan completion, else won deals × bonus per deal +
-- whole revenue steps × bonus per step. Managers with a plan and no wins show 0 done; wins
-- without a plan show a NULL plan and a NULL bonus.
with plans as (
    select
        trim(`Менеджер`) as manager,
        toDate(parseDateTime(concat('01.', trim(`Месяц`)), '%d.%m.%Y')) as period_start,
        toFloat64OrZero(replaceRegexpAll(`План выручки`, '[^0-9.]', '')) as plan_revenue,
        toUInt64OrZero(replaceRegexpAll(`План сделок`, '[^0-9]', '')) as plan_deals
    from {{ ref('manager_plans') }}
),
rules as (
    select
        trim(`Менеджер`) as manager,
        toFloat64OrZero(replaceRegexpAll(`Бонус за сделку`, '[^0-9.]', '')) as bonus_per_deal,
        toFloat64OrZero(replaceRegexpAll(`Шаг выручки`, '[^0-9.]', '')) as revenue_step,
        toFloat64OrZero(replaceRegexpAll(`Бонус за шаг`, '[^0-9.]', '')) as bonus_per_step,
        toFloat64OrZero(replaceRegexpAll(`Мин. выполнение плана`, '[^0-9.]', '')) / 100
            as min_plan_done
    from {{ ref('manager_bonus_rules') }}
),
facts as (
    select manager, toStartOfMonth({{ local('assumeNotNull(won_at)') }}) as period_start,
           count() as won_deals, sum(amount) as won_revenue
    from {{ ref('int_deals') }}
    where won_at is not null and is_deleted = 0
    group by manager, period_start
),
joined as (
    select
        if(p.manager != '', p.manager, f.manager) as manager,
        if(p.manager != '', p.period_start, f.period_start) as period_start,
        if(p.manager != '', toNullable(p.plan_revenue), NULL) as plan_revenue,
        if(p.manager != '', toNullable(p.plan_deals), NULL) as plan_deals,
        f.won_revenue as won_revenue,
        f.won_deals as won_deals
    from plans as p
    full outer join facts as f on f.manager = p.manager and f.period_start = p.period_start
),
-- Each manager's rule: their own row, else the `*` row.
manager_rules as (
    select
        j.manager as manager,
        argMax(r.bonus_per_deal, r.manager != '*') as bonus_per_deal,
        argMax(r.revenue_step, r.manager != '*') as revenue_step,
        argMax(r.bonus_per_step, r.manager != '*') as bonus_per_step,
        argMax(r.min_plan_done, r.manager != '*') as min_plan_done
    from (select distinct manager from joined) as j
    inner join rules as r on r.manager = j.manager or r.manager = '*'
    group by j.manager
)
select
    j.manager as manager,
    j.period_start as period_start,
    j.plan_revenue as plan_revenue,
    j.plan_deals as plan_deals,
    j.won_revenue as won_revenue,
    j.won_deals as won_deals,
    {{ safe_div('j.won_revenue', 'j.plan_revenue') }} as revenue_done,
    {{ safe_div('j.won_deals', 'j.plan_deals') }} as deals_done,
    if(r.manager != '', toNullable(r.bonus_per_deal), NULL) as bonus_per_deal,
    if(r.manager != '', toNullable(r.revenue_step), NULL) as revenue_step,
    if(r.manager != '', toNullable(r.bonus_per_step), NULL) as bonus_per_step,
    if(r.manager != '', toNullable(r.min_plan_done), NULL) as min_plan_done,
    multiIf(
        r.manager = '' or revenue_done is null, NULL,
        revenue_done < r.min_plan_done, 0,
        j.won_deals * r.bonus_per_deal
            + if(r.revenue_step > 0, floor(j.won_revenue / r.revenue_step), 0) * r.bonus_per_step
    ) as earned_bonus
from joined as j
left join manager_rules as r on r.manager = j.manager
