"""The whole graph in process against the emulators: published marts agree with the simulated
company's ground truth (true won dates, true call→deal links, the reports' findings), and a
second run after the company moves on is incremental."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from dagster import DagsterInstance
from rich.console import Console

from funnelhouse.orchestration.run import run_job
from funnelhouse.progress import StepDisplay
from funnelhouse.simulator import truth
from funnelhouse.simulator.company import generate
from funnelhouse.simulator.config import SimConfig
from funnelhouse.simulator.emulators.server import start_emulators
from funnelhouse.warehouse.client import get_client
from tests.conftest import use_emulators
from tests.dbt.conftest import reset_pipeline

pytestmark = pytest.mark.slow  # the whole graph against the emulators


@pytest.fixture(scope="module")
def world(warehouse, tmp_path_factory):
    company = generate(SimConfig(seed=3, scale=0.03))
    with start_emulators(company, rate_multiplier=1000) as sources:
        mp = pytest.MonkeyPatch()
        use_emulators(mp, sources, warehouse)
        reset_pipeline(warehouse)
        with DagsterInstance.ephemeral() as instance:
            yield company, sources, instance
        mp.undo()


def _truth(company, clock: int) -> dict[str, int]:
    t = truth.truth(company)
    at = pd.Timestamp(clock, unit="s", tz="UTC")
    leads = t["leads"]
    live = leads[(leads.created_at <= at) & ~(leads.is_deleted & (leads.deleted_at <= at))]
    return {
        "leads": len(live),
        "won": int((live.won_at <= at).sum()),
        "calls": int((t["calls"].start_at <= at).sum()),
    }


def _reports_agree_with_the_simulation(client, company, clock: int) -> None:
    t = truth.truth(company)
    at = pd.Timestamp(clock, unit="s", tz="UTC")
    # Every missed inbound call the simulator made, and no other.
    missed = t["missed_calls"]
    assert client.command("SELECT count() FROM marts.missed_calls") == int(
        (missed.start_at <= at).sum()
    )
    # Weekends and evenings miss more: the gap the simulator builds in.
    rates = dict(
        client.query(
            "SELECT is_weekend OR is_evening, count() FROM marts.missed_calls GROUP BY 1"
        ).result_rows
    )
    inbound = dict(
        client.query(
            "SELECT toDayOfWeek(toTimeZone(started_at, 'Europe/Moscow')) >= 6 OR "
            "toHour(toTimeZone(started_at, 'Europe/Moscow')) NOT BETWEEN 9 AND 18, count() "
            "FROM intermediate.int_calls WHERE direction = 'in' GROUP BY 1"
        ).result_rows
    )
    assert rates[1] / inbound[1] > 2 * rates[0] / inbound[0]
    # Exactly the deals the simulator left idle as of the instant the marts describe.
    as_of = client.command("SELECT toUnixTimestamp(as_of) FROM intermediate.int_as_of")
    idle = truth.idle_deals(company, int(as_of))
    for flag in ("is_forgotten", "is_dead"):
        sql = f"SELECT deal_id, kind FROM marts.forgotten_deals WHERE {flag}"
        flagged = dict(client.query(sql).result_rows)
        left = idle[idle[flag]]
        expected = dict(zip(left.deal_id, left.kind, strict=True))
        assert expected and flagged == expected, flag


def _managers_agree_across_marts(client) -> None:
    """One person is one manager in every mart: calls and wins per manager and month agree."""
    assert (
        client.command("SELECT count() FROM intermediate.int_managers WHERE match = 'unmatched'")
        == 0
    )  # every PBX employee of the company is one of its CRM users

    def per_manager(sql: str) -> dict[tuple, int]:
        return {(str(m), p): int(v) for m, p, v in client.query(sql).result_rows if v}

    month = "period_start, "
    load = per_manager(
        f"SELECT segment_value, {month} sum(calls) FROM marts.call_load_by_stage WHERE "
        "period_grain = 'month' AND segment_type = 'manager' GROUP BY segment_value, period_start"
    )
    activity = per_manager(
        f"SELECT manager, {month} calls FROM marts.manager_activity WHERE period_grain = 'month'"
    )
    shares = per_manager(
        f"SELECT segment_value, {month} calls FROM marts.call_proportions "
        "WHERE segment_type = 'manager'"
    )
    assert load and load == activity == shares
    won = per_manager(
        f"SELECT segment_value, {month} deals_won FROM marts.call_proportions "
        "WHERE segment_type = 'manager'"
    )
    gross = per_manager(
        f"SELECT segment_value, {month} deals_won FROM marts.conversion_gross "
        "WHERE period_grain = 'month' AND segment_type = 'manager'"
    )
    assert won and won == gross
    # effort_to_revenue is defined for every manager and month with talk and revenue, and
    # every manager who brought revenue also talked: no one is split into two names.
    rows = client.query(
        "SELECT segment_value, countIf(talk_minutes > 0 AND revenue_won > 0), "
        "countIf(talk_minutes > 0 AND revenue_won > 0 AND effort_to_revenue IS NULL), "
        "sum(revenue_won) FROM marts.call_proportions WHERE segment_type = 'manager' "
        "GROUP BY segment_value"
    ).result_rows
    earning = {m: both for m, both, _, revenue in rows if revenue > 0}
    assert earning and all(both > 0 for both in earning.values()), earning
    assert all(undefined == 0 for _, _, undefined, _ in rows)


def _client_reports_agree_with_the_simulation(client, company, clock: int) -> None:
    """managers_reach counts the company's true outbound calls and conversations per manager
    and week; no client with a true conversation on its phones in the last 60 days is
    forgotten; client_value holds the 1C sales (less the few documents left unposted)."""
    t = truth.truth(company)
    at = pd.Timestamp(clock, unit="s", tz="UTC")
    calls = t["calls"][(t["calls"].start_at <= at) & (t["calls"].direction == "out")]
    week = calls.start_at.dt.tz_convert("Europe/Moscow").dt.tz_localize(None).dt.to_period("W")
    true = (
        calls.assign(week=week.dt.start_time.dt.date)
        .groupby(["manager", "week"])
        .agg(outbound=("call_id", "size"), reached=("answered", "sum"))
    )
    rows = client.query(
        "SELECT manager, week_start, outbound_calls, reached_calls FROM marts.managers_reach "
        "WHERE outbound_calls > 0"
    ).result_rows
    assert {(m, w): (o, r) for m, w, o, r in rows} == {
        k: (int(o), int(r)) for k, (o, r) in true.iterrows()
    }

    as_of = client.command("SELECT toUnixTimestamp(as_of) FROM intermediate.int_as_of")
    since = pd.Timestamp(as_of - 60 * 86400, unit="s", tz="UTC")
    end = pd.Timestamp(as_of, unit="s", tz="UTC")
    talked = t["calls"][t["calls"].answered & (t["calls"].start_at > since)
                        & (t["calls"].start_at <= end)]  # fmt: skip
    recent_phones = set(talked.phone)
    clients = client.query(
        "SELECT f.client_key, c.phones, f.is_forgotten FROM marts.forgotten_clients AS f "
        "INNER JOIN intermediate.int_clients AS c ON c.client_key = f.client_key"
    ).result_rows
    phoned = [forgotten for _, phones, forgotten in clients if recent_phones.intersection(phones)]
    assert phoned and not any(phoned)
    assert any(forgotten for _, _, forgotten in clients)  # two years leave clients behind

    # 1C: the emulator leaves about 1 in 50 documents unposted, which truth cannot see.
    ltv = client.command("SELECT sum(lifetime_revenue) FROM marts.client_value")
    true_ltv = truth.sales(company, as_of).amount.sum()
    assert 0.95 * true_ltv <= ltv <= true_ltv


def _cohorts_are_bounded(client) -> None:
    """projected_conversion lies between the to-date value and 1; age_days is never negative
    and is 0 for a cohort still open at as_of."""
    bad = client.command(
        "SELECT count() FROM marts.conversion_cohort WHERE age_days < 0 "
        "OR projected_conversion > 1 OR projected_conversion < cohort_conversion_to_date - 1e-9 "
        "OR (is_open AND age_days != 0)"
    )
    assert bad == 0
    assert client.command("SELECT countIf(is_open) FROM marts.conversion_cohort") > 0


def _months(ts: pd.Series, at: pd.Timestamp) -> dict:
    local = ts[ts <= at].dt.tz_convert("Europe/Moscow").dt.tz_localize(None)
    return local.dt.to_period("M").dt.start_time.dt.date.value_counts().to_dict()


def _won_dates_agree(client, company, clock: int) -> None:
    """Leads created and deals won per month (business time zone) equal the true dates."""
    leads = truth.truth(company)["leads"]
    at = pd.Timestamp(clock, unit="s", tz="UTC")
    live = leads[(leads.created_at <= at) & ~(leads.is_deleted & (leads.deleted_at <= at))]
    created, won = _months(live.created_at, at), _months(live.won_at.dropna(), at)
    expected = {m: (created.get(m, 0), won.get(m, 0)) for m in created.keys() | won.keys()}
    rows = client.query(
        "SELECT period_start, leads_created, deals_won FROM marts.conversion_gross "
        "WHERE period_grain = 'month' AND segment_type = 'all'"
    ).result_rows
    assert {p: (int(c), int(w)) for p, c, w in rows} == expected


def _call_links_agree(client, company, clock: int) -> None:
    """Calls reach their true deals as far as the CRMs' data lets METRICS.md's rule see them.

    The simulator knows every call's deal; the pipeline knows the CRM's link, else the
    client's phone to a deal open at call time. So: each deal has exactly the calls the CRM
    logged for it (deals deleted by now have none); calls from numbers no deal has stay
    unattributed; a call found by phone goes to a deal of the same client open at the time.
    """
    t = truth.truth(company)
    at = pd.Timestamp(clock, unit="s", tz="UTC")
    leads = t["leads"].set_index("deal_id")
    deleted = set(leads.index[leads.is_deleted & (leads.deleted_at <= at)])
    calls = t["calls"][t["calls"].start_at <= at].merge(
        client.query_df(
            "SELECT call_id, deal_id AS found, attribution FROM intermediate.int_calls"
        ),
        on="call_id",
        how="left",
    )
    assert calls.attribution.notna().all()  # every call, once (int_calls is unique per call)
    logged = calls[calls.in_crm & ~calls.deal_id.isin(deleted)]
    linked = calls[calls.attribution == "crm_link"]
    assert linked.found.value_counts().to_dict() == logged.deal_id.value_counts().to_dict()
    assert not calls.found.isin(deleted).any()
    assert (calls[calls.deal_id.isna()].attribution == "none").all()
    by_phone = calls[calls.attribution == "phone"]
    found = leads.loc[by_phone.found]
    assert (found.client_inn.to_numpy() == leads.loc[by_phone.deal_id].client_inn.to_numpy()).all()
    opened = found.created_at.to_numpy() <= by_phone.start_at.to_numpy()
    not_closed = found.closed_at.isna().to_numpy() | (
        by_phone.start_at.to_numpy() < found.closed_at.to_numpy()
    )
    assert (opened & not_closed).all()
    assert len(linked) > 100 and len(by_phone) > 10  # the company exercises both paths


def _month(ts: pd.Series) -> pd.Series:
    local = ts.dt.tz_convert("Europe/Moscow").dt.tz_localize(None)
    return local.dt.to_period("M").dt.start_time.dt.date


def _marketing_agrees_with_the_simulation(client, company, clock: int) -> None:
    """leads_by_utm and product_revenue are the simulator's UTM tags and product rows: each
    month's live leads by every tag value (wins to date), and won revenue split over products."""
    t = truth.truth(company)
    at = pd.Timestamp(clock, unit="s", tz="UTC")
    leads = t["leads"]
    live = leads[(leads.created_at <= at) & ~(leads.is_deleted & (leads.deleted_at <= at))]
    live = live.merge(t["utm"], on="deal_id").assign(month=lambda d: _month(d.created_at))
    live["won"] = live.won_at.notna() & (live.won_at <= at)
    tags = live[["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"]]
    tags = tags.fillna("(none)")
    tags["combination"] = (
        tags.utm_source + " / " + tags.utm_medium + " / " + tags.utm_campaign
    ).where(live[["utm_source", "utm_medium", "utm_campaign"]].notna().any(axis=1), "(none)")
    expected = {}
    for tag in tags.columns:
        frame = live.assign(value=tags[tag], revenue=live.price.where(live.won, 0))
        for (month, value), g in frame.groupby(["month", "value"]):
            expected[(month, tag, value)] = (len(g), int(g.won.sum()), float(g.revenue.sum()))
    rows = client.query(
        "SELECT period_start, tag, tag_value, leads, deals_won, revenue_won FROM marts.leads_by_utm"
    ).result_rows
    assert {(p, tg, v): (int(n), int(w), float(r)) for p, tg, v, n, w, r in rows} == expected
    assert 0.3 < (tags.utm_source != "(none)").mean() < 0.8  # tagged and untagged leads both

    won = live[live.won].assign(month=lambda d: _month(d.won_at))
    rows_truth = t["deal_products"].merge(won[["deal_id", "month", "source", "price"]])
    share = rows_truth.amount / rows_truth.groupby("deal_id").amount.transform("sum")
    split = rows_truth.assign(revenue=rows_truth.price * share)
    bare = won[~won.deal_id.isin(rows_truth.deal_id)].assign(
        product="(none)", quantity=0, revenue=lambda d: d.price.astype(float)
    )
    cols = ["deal_id", "month", "source", "product", "quantity", "revenue"]
    both = pd.concat([split[cols], bare[cols]])
    want = {
        k: (g.deal_id.nunique(), int(g.quantity.sum()), pytest.approx(g.revenue.sum(), abs=0.01))
        for k, g in both.groupby(["month", "source", "product"])
    }
    got = client.query(
        "SELECT period_start, source, product, deals_won, quantity, revenue_won "
        "FROM marts.product_revenue"
    ).result_rows
    assert {(p, s, pr): (int(n), int(q), r) for p, s, pr, n, q, r in got} == want
    assert (bare.size > 0) and rows_truth["product"].nunique() > 5  # both kinds of won deals


def _marts(client) -> dict[str, int]:
    gross = client.query(
        "SELECT sum(leads_created), sum(deals_won) FROM marts.conversion_gross "
        "WHERE period_grain = 'month' AND segment_type = 'all'"
    ).result_rows[0]
    calls = client.command(
        "SELECT sum(calls) FROM marts.call_load_by_stage WHERE period_grain = 'month' "
        "AND segment_type = 'all'"
    )
    return {"leads": int(gross[0]), "won": int(gross[1]), "calls": int(calls)}


def test_full_graph_publishes_marts_that_match_the_ground_truth(world, warehouse):
    company, sources, instance = world
    result = run_job("incremental", warehouse, instance=instance)
    assert result.success
    client = get_client(warehouse)
    assert _marts(client) == _truth(company, sources.clock)
    _won_dates_agree(client, company, sources.clock)
    _call_links_agree(client, company, sources.clock)
    _reports_agree_with_the_simulation(client, company, sources.clock)
    _managers_agree_across_marts(client)
    _cohorts_are_bounded(client)
    _client_reports_agree_with_the_simulation(client, company, sources.clock)
    _marketing_agrees_with_the_simulation(client, company, sources.clock)
    # What BI shows next to each column: dbt's descriptions, persisted as comments.
    assert (
        client.command(
            "SELECT count() FROM system.columns WHERE database = 'marts' AND comment = ''"
        )
        == 0
    )

    # The company moves on three days; the next hourly run reads only what changed.
    sources.advance(days=3)
    second = run_job("incremental", warehouse, instance=instance)
    assert _marts(client) == _truth(company, sources.clock)
    _won_dates_agree(client, company, sources.clock)
    _call_links_agree(client, company, sources.clock)
    _marketing_agrees_with_the_simulation(client, company, sources.clock)  # rows of changed deals
    synced = {
        m.asset_key.path[-1]: m.metadata
        for m in (e.event_specific_data.materialization for e in
                  second.get_asset_materialization_events())
        if m.asset_key.path[0] == "raw"
    }  # fmt: skip
    calls = synced["uis__calls"]
    assert calls["cursor_before"].value != "(none)"  # it resumed from the first run's cursor
    total = client.command("SELECT count() FROM raw.uis__calls FINAL")
    assert 0 < calls["rows"].value < total  # only the lookback window and new calls

    # An hour without news: the syncs re-read their lookback windows and find the records as
    # they were, so dbt builds nothing, the suites and the publish are skipped, and the run
    # says so.
    publishes = client.command("SELECT count() FROM marts.publish_log")
    display = StepDisplay(Console(file=io.StringIO(), width=200))
    quiet = run_job("incremental", warehouse, instance=instance, display=display)
    assert quiet.success
    assert {m.asset_key.path[0] for m in quiet.get_asset_materialization_events()} == {"raw"}
    assert client.command("SELECT count() FROM marts.publish_log") == publishes
    assert _marts(client) == _truth(company, sources.clock)
    summary = {line.split()[0]: line for line in display.summary()}
    assert "built nothing: inputs unchanged since publish" in summary["dbt_build"]
    assert summary["publish_marts"].split()[1] == "skip"
    client.close()
