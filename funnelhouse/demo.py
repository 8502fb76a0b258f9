"""`funnelhouse demo`: the whole pipeline on the embedded default, end to end, then the marts.

Starts the embedded warehouse and the emulated sources of a simulated company, runs the
`incremental` Dagster job in process (ingest → staging → raw gate → marts → mart gate →
publish), prints the key marts, and stops what it started.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack

from rich.console import Console
from rich.table import Table

from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.embedded import process
from funnelhouse.warehouse.settings import WarehouseSettings

# Wide enough for the mart tables when the output is a log or a CI console, not a terminal.
console = Console(width=None if Console().is_terminal else 150)


# Titles and SQL take {month} (the last full month before as_of, 'YYYY-MM-DD') and {month_name}.
KEY_MARTS = [
    ("Gross vs cohort conversion by month (all leads)",
     "SELECT formatDateTime(g.period_start, '%b %Y') AS month, g.leads_created AS leads, "
     "g.deals_won AS won, round(g.gross_conversion, 3) AS gross, "
     "round(c.cohort_conversion_to_date, 3) AS cohort, round(c.conversion_30d, 3) AS cohort_30d, "
     "round(c.projected_conversion, 3) AS projected "
     "FROM marts.conversion_gross AS g LEFT JOIN marts.conversion_cohort AS c "
     "ON c.cohort_start = g.period_start AND c.cohort_grain = 'month' "
     "AND c.segment_type = 'all' WHERE g.period_grain = 'month' AND g.segment_type = 'all' "
     "ORDER BY g.period_start DESC LIMIT 12"),
    ("Call load per stage, {month_name}",
     "SELECT pipeline, stage, calls, answered_calls AS answered, missed_calls AS missed, "
     "round(talk_seconds / 3600, 1) AS talk_hours, deals_touched AS deals, "
     "round(calls_per_deal, 1) AS per_deal FROM marts.call_load_by_stage "
     "WHERE period_grain = 'month' AND segment_type = 'all' AND period_start = '{month}' "
     "ORDER BY pipeline, calls DESC"),
    ("Call proportions by source, {month_name}",
     "SELECT segment_value AS source, calls, round(talk_share, 3) AS talk_share, "
     "deals_won AS won, round(revenue_share, 3) AS revenue_share, "
     "round(effort_to_revenue, 2) AS effort_to_revenue FROM marts.call_proportions "
     "WHERE segment_type = 'source' AND period_start = '{month}' ORDER BY talk_share DESC"),
    ("Effort vs revenue by manager, {month_name}",
     "SELECT segment_value AS manager, calls, round(talk_share, 3) AS talk_share, "
     "deals_won AS won, revenue_won AS revenue, round(effort_to_revenue, 2) AS effort_to_revenue "
     "FROM marts.call_proportions WHERE segment_type = 'manager' AND period_start = '{month}' "
     "ORDER BY talk_share DESC LIMIT 10"),
    ("Manager activity, {month_name}",
     "SELECT manager, calls, round(talk_minutes) AS talk_min, meetings, emails, tasks, "
     "round(activity_index, 1) AS activity_index FROM marts.manager_activity "
     "WHERE period_grain = 'month' AND period_start = '{month}' "
     "ORDER BY activity_index DESC LIMIT 10"),
    ("Forgotten deals (top 10 by amount; dead ones left out)",
     "SELECT deal_id, kind, stage, manager, idle_days, amount_at_stake "
     "FROM marts.forgotten_deals WHERE is_forgotten ORDER BY amount_at_stake DESC LIMIT 10"),
    ("Open deals by idle status",
     "SELECT idle_status AS status, count() AS deals, sum(amount_at_stake) AS amount "
     "FROM marts.forgotten_deals GROUP BY idle_status ORDER BY idle_status"),
    ("Outbound reach by manager, the 4 weeks to the marts' last week",
     "SELECT manager, sum(outbound_calls) AS outbound, sum(reached_calls) AS reached, "
     "round(sum(reached_calls) / nullIf(sum(outbound_calls), 0), 3) AS reach_rate, "
     "round(argMax(activity_trend, week_start), 2) AS activity_trend, "
     "max(is_burning_out) AS burning_out FROM marts.managers_reach WHERE week_start > "
     "(SELECT max(week_start) - 28 FROM marts.managers_reach) GROUP BY manager "
     "ORDER BY outbound DESC LIMIT 10"),
    ("Clients nobody talks to, by manager",
     "SELECT manager, count() AS clients, countIf(is_forgotten) AS forgotten, "
     "countIf(went_silent) AS went_silent, countIf(never_contacted) AS never_contacted "
     "FROM marts.forgotten_clients GROUP BY manager ORDER BY forgotten DESC LIMIT 10"),
    ("Top 5 clients by lifetime value (1C)",
     "SELECT customer_name AS client, lifetime_revenue AS revenue, sales_documents AS documents, "
     "round(cumulative_share, 3) AS cumulative_share, acquisition_source AS source "
     "FROM marts.client_value ORDER BY ltv_rank LIMIT 5"),
    ("Leads by UTM source, {month_name}",
     "SELECT tag_value AS utm_source, leads, deals_won AS won, round(conversion, 3) AS "
     "conversion, revenue_won AS revenue FROM marts.leads_by_utm WHERE tag = 'utm_source' "
     "AND period_start = '{month}' ORDER BY leads DESC LIMIT 8"),
    ("Missed calls: callback rate by weekday",
     "SELECT arrayElement(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], weekday) AS day, "
     "count() AS missed, round(avg(called_back), 3) AS called_back, "
     "round(median(callback_minutes)) AS median_minutes FROM marts.missed_calls "
     "GROUP BY weekday ORDER BY weekday"),
    ("Stage velocity (Продажи, all months)",
     "SELECT stage, sum(deals_entered) AS entered, round(avg(median_days_in_stage), 1) AS "
     "median_days, round(sum(moved_forward + moved_to_won) / nullIf(sum(deals_left), 0), 3) "
     "AS conversion, sum(stuck_deals) AS stuck FROM marts.stage_velocity "
     "WHERE pipeline = 'Продажи' GROUP BY stage, stage_sort ORDER BY stage_sort"),
    ("Loss reasons (all time)",
     "SELECT loss_reason, sum(lost_deals) AS lost, round(sum(lost_amount)) AS amount "
     "FROM marts.loss_reasons GROUP BY loss_reason ORDER BY lost DESC"),
    ("Plan / fact, {month_name}",
     "SELECT manager, plan_revenue, won_revenue, round(revenue_done, 2) AS done FROM "
     "marts.plan_fact WHERE period_start = '{month}' ORDER BY manager"),
    ("1C revenue by client status, the 6 months to {month_name}",
     "SELECT formatDateTime(period_start, '%b %Y') AS month, customer_status AS status, "
     "count() AS clients, round(sum(sales_amount)) AS sales, round(sum(payments_amount)) AS paid "
     "FROM marts.customer_revenue WHERE period_start > toDate('{month}') - INTERVAL 6 MONTH "
     "AND period_start <= '{month}' GROUP BY period_start, status "
     "ORDER BY period_start DESC, status"),
]  # fmt: skip
# Columns that hold roubles: printed with thousands separators and the currency.
MONEY = ("amount", "revenue", "sales", "paid")
# The month before the latest month in the marts (cut by dbt in the business time zone).
LAST_FULL_MONTH = (
    "SELECT max(period_start) - INTERVAL 1 MONTH FROM marts.conversion_gross "
    "WHERE period_grain = 'month'"
)


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and any(m in column for m in MONEY):
        return f"{value:,.0f} ₽".replace(",", "\u202f")
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".").replace(",", "\u202f")
    return str(value)


def print_query(settings: WarehouseSettings, sql: str, title: str | None = None) -> int:
    """Print a result as a table (numbers grouped, roubles marked); says so when it is empty."""
    client = get_client(settings)
    try:
        result = client.query(sql)
    finally:
        client.close()
    if not result.result_rows:
        console.print(f"{title}: no rows" if title else "no rows")
        return 0
    table = Table(title=title, title_justify="left", show_lines=False)
    for name in result.column_names:
        numeric = any(isinstance(row[len(table.columns)], int | float) for row in
                      result.result_rows[:50])  # fmt: skip
        table.add_column(name, justify="right" if numeric else "left")
    for row in result.result_rows:
        table.add_row(*(_cell(c, v) for c, v in zip(result.column_names, row, strict=True)))
    console.print(table)
    return len(result.result_rows)


def print_key_marts(settings: WarehouseSettings) -> None:
    """The demo's short form of each mart, for the last full month before the marts' as_of."""
    client = get_client(settings)
    try:
        month = client.query(LAST_FULL_MONTH).result_rows[0][0]
        unmatched = client.query(
            "SELECT person_name FROM intermediate.int_managers WHERE match = 'unmatched'"
        ).result_rows
    finally:
        client.close()
    if unmatched:
        console.print(
            "[yellow]PBX employees no CRM user matches[/yellow] (add them to the "
            f"manager_aliases var): {', '.join(r[0] for r in unmatched)}\n"
        )
    names = {"month": month.isoformat(), "month_name": month.strftime("%B %Y")}
    for title, sql in KEY_MARTS:
        print_query(settings, sql.format(**names), title.format(**names))


def demo(settings: WarehouseSettings, seed: int = 42, scale: float = 0.5,
         rate_multiplier: float = 10.0, keep_running: bool = False) -> None:  # fmt: skip
    """Everything the steps print (dbt's log, Dagster's, GX's) goes to a log file; people see
    one progress line per step, a heartbeat while a step runs long, a summary, the marts."""
    from funnelhouse.progress import StepDisplay, redirect_output, step_logs, terminal_console

    started = time.monotonic()
    log = settings.data_dir / "logs" / "demo.log"
    with ExitStack() as stack, ExitStack() as shown:
        terminal = shown.enter_context(redirect_output(log))
        out = terminal_console(terminal)
        display = shown.enter_context(StepDisplay(out))
        shown.enter_context(display.heartbeats())
        display.say(f"[bold]log[/bold] of this process (dbt parse and docs, Dagster, GX): {log}")
        with display.phase("loading Dagster, dbt and GX"):  # seconds of imports: shown
            from funnelhouse.dbt import DBT_PROJECT_DIR, run_dbt
            from funnelhouse.ingest.settings import scaled_rates
            from funnelhouse.orchestration.dbt_project import prepare_dbt_project
            from funnelhouse.orchestration.run import run_job
            from funnelhouse.simulator.company import generate
            from funnelhouse.simulator.config import SimConfig
            from funnelhouse.simulator.emulators.server import start_emulators
        with display.phase("starting the warehouse"):
            started_warehouse = settings.is_embedded_default and process.start_background(settings)
        if started_warehouse and not keep_running:
            stack.callback(process.stop_background, settings)
        display.say(f"[bold]warehouse[/bold] {settings.http_url} (data in {settings.data_dir})")
        with display.phase("simulating the company"):
            company = generate(SimConfig(seed=seed, scale=scale))
        counts = company.counts()
        display.say(f"[bold]simulated company[/bold] seed={seed} scale={scale:g}: "
                  + ", ".join(f"{v:,} {k}" for k, v in list(counts.items())[:5]))  # fmt: skip
        sources = stack.enter_context(start_emulators(company, rate_multiplier=rate_multiplier))
        os.environ.update(sources.env())
        # The clients' own rates, multiplied like the emulators' limits.
        for var, rate in scaled_rates(rate_multiplier).items():
            os.environ.setdefault(var, rate)
        display.say(f"[bold]sources[/bold] amoCRM {sources.amocrm_url}, Bitrix24, UIS "
                  f"{sources.uis_url}, 1C {sources.onec_url} (rate limits × "
                  f"{rate_multiplier:g})")  # fmt: skip
        try:
            with display.phase("dbt parse"):
                prepare_dbt_project()
            display.say("[bold]running[/bold] the `incremental` job: ingest (the sources side "
                      "by side) → staging → raw gate → marts → mart gate → publish")  # fmt: skip
            # Dagster logs only errors (into the log); a failed step is named by run_job.
            with display.phase("job incremental"):  # a row on the terminal while steps start
                result = run_job("incremental", settings, log_level="ERROR", display=display)
            display.say(f"run {result.run_id} succeeded in {time.monotonic() - started:.0f} s:")
            for line in display.summary():
                display.say(line)
            display.say(f"dbt's log and each step's output: {step_logs(result.run_id)}")
            with display.phase("dbt docs generate"):
                run_dbt("docs", "generate", "--quiet", settings=settings)
        except RuntimeError as exc:  # JobFailed, DbtFailed
            raise RuntimeError(f"{exc}\nThe log of this process: {log}") from None
        shown.close()  # back on stdout: the mart tables are the demo's result
        console.print()
        print_key_marts(settings)
        console.print(
            f"\nData Docs (GX): {settings.data_dir / 'data_docs' / 'index.html'}\n"
            f"dbt docs: {DBT_PROJECT_DIR / 'target' / 'index.html'} "
            "(serve with `.venv/bin/dbt docs serve --project-dir dbt_project "
            "--profiles-dir dbt_project`)\n"
            f"Published marts: {settings.http_url} database `marts` (BI user `bi`).\n"
            f"Log of this process (dbt parse and docs, Dagster, GX): {log}"
        )
    if keep_running:
        console.print("The warehouse keeps running (`make down` stops it).")
