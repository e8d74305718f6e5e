"""Hand-built warehouses with known answers for the member lifetime tables."""

import datetime as dt

import pytest
from ml_fixtures import TZ, d

from assets.marts.member_lifetime import build, queries


def run(wh, th, as_of: str):
    build.build_clv_model(wh.conn, d(as_of), th, TZ)
    build.build_member_lifetime(wh.conn, th, TZ)
    cur = wh.conn.execute("SELECT * FROM marts.member_lifetime ORDER BY member_id")
    names = [c[0] for c in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


@pytest.fixture
def rfm_wh(wh):
    wh.member("b1").member("b2").member("b3").member("b4").member("b5").member("p0").member("st", staff=True)
    wh.order("b1", "2025-03-29", 10)
    for day in ("2025-03-20", "2025-03-25"):
        wh.order("b2", day, 20)
    for day in ("2025-02-01", "2025-02-15", "2025-03-01"):
        wh.order("b3", day, 30)
    for day in ("2025-01-05", "2025-01-10", "2025-01-15", "2025-01-20"):
        wh.order("b4", day, 50)
    for day in ("2024-09-01", "2024-09-05", "2024-09-10", "2024-09-15", "2024-09-20"):
        wh.order("b5", day, 100)
    wh.order("st", "2025-03-01", 999)  # staff purchases never make a member row
    wh.order("b1", "2025-03-30", 40, refund=40)  # fully refunded: not a purchase
    wh.order("b1", "2025-03-30", 25, paid=False)  # unpaid: ignored
    return wh


def test_rfm_scores_segments_and_money(rfm_wh, th):
    rows = run(rfm_wh, th, "2025-03-30")
    assert set(rows) == {"b1", "b2", "b3", "b4", "b5", "p0"}
    expect = {
        "b1": (5, 1, 1, "new"),
        "b2": (4, 2, 2, "potential_loyalist"),
        "b3": (3, 3, 3, "need_attention"),
        "b4": (2, 4, 4, "at_risk"),
        "b5": (1, 5, 5, "cant_lose"),
    }
    for m, (r, f, mon, seg) in expect.items():
        row = rows[m]
        assert (row["rfm_r"], row["rfm_f"], row["rfm_m"], row["rfm_segment"]) == (r, f, mon, seg), m
    assert rows["b1"]["orders"] == 1 and float(rows["b1"]["historic_clv"]) == 10.0
    assert float(rows["b4"]["historic_clv"]) == 200.0 and rows["b4"]["aov"] == 50.0
    assert rows["b4"]["avg_days_between_orders"] == 5.0
    assert rows["b4"]["btyd_x"] == 3
    assert rows["b4"]["btyd_t_x"] == pytest.approx(15 / 7)
    assert rows["b4"]["btyd_T"] == pytest.approx((d("2025-03-30") - d("2025-01-05")).days / 7)
    assert rows["b3"]["cohort_month"] == dt.date(2025, 2, 1)
    p0 = rows["p0"]
    assert (p0["orders"], p0["rfm_segment"], p0["lifecycle_state"], p0["role_level"]) == (
        0,
        None,
        "prospect",
        "L0",
    )
    assert rows["b1"]["lifecycle_state"] == "new"
    assert rows["b2"]["lifecycle_state"] == "returning"
    assert rows["b3"]["lifecycle_state"] == "active"
    assert rows["b5"]["lifecycle_state"] == "churned"
    assert all(r["as_of_date"] == d("2025-03-30") for r in rows.values())


def test_small_brand_falls_back_visibly(wh, th):
    """50 buyers, nobody bought twice: no model, no error, and the reason is in the model table."""
    for i in range(50):
        wh.member(f"m{i:02d}").order(
            f"m{i:02d}", (d("2025-01-01") + dt.timedelta(days=i)).isoformat(), 20 + i
        )
    rows = run(wh, th, "2025-03-30")
    status, reason, r, n, n_rep = wh.conn.execute(
        "SELECT status, status_reason, r, n_customers, n_repeat_buyers FROM marts.clv_model"
    ).fetchone()
    assert status == "fallback_empirical" and r is None
    assert (n, n_rep) == (50, 0)
    assert "only 50 buyers" in reason and "0 repeat buyers" in reason
    assert len(rows) == 50
    for row in rows.values():
        assert row["p_alive"] is None  # not estimated, never a made-up number
        assert row["expected_orders_90d"] == 0.0
        assert row["churn_risk"] == 1.0 and row["churn_band"] == "high"
        assert row["predicted_clv_12m"] == 0.0
        assert row["expected_next_order_date"] is None


def test_lifecycle_states_of_members_over_time(wh, th):
    wh.member("A").member("B")
    for day in ("2025-01-06", "2025-01-08", "2025-01-20", "2025-06-02"):
        wh.order("A", day, 10)
    wh.order("B", "2025-01-15", 10)
    assert run(wh, th, "2025-05-04")["A"]["lifecycle_state"] == "dormant"
    rows = run(wh, th, "2025-06-08")
    assert (rows["A"]["lifecycle_state"], rows["B"]["lifecycle_state"]) == ("resurrected", "dormant")
    assert run(wh, th, "2025-07-20")["B"]["lifecycle_state"] == "churned"


def _weeks(wh):
    cur = wh.conn.execute("SELECT * FROM marts.member_lifecycle_weekly ORDER BY week_start")
    names = [c[0] for c in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


STATES = ("n_new", "n_returning", "n_resurrected", "n_active", "n_dormant", "n_churned")


def test_lifecycle_weekly_counts_and_partial_rebuild(wh, th):
    wh.member("A").member("B")
    for day in ("2025-01-06", "2025-01-08", "2025-01-20", "2025-06-02"):
        wh.order("A", day, 10)
    wh.order("B", "2025-01-15", 10)
    build.build_lifecycle_weekly(wh.conn, d("2024-12-30"), d("2025-12-08"), th, TZ)
    w = _weeks(wh)

    def states(week):
        return {k: w[d(week)][k] for k in STATES if w[d(week)][k]}

    assert states("2024-12-30") == {}
    assert states("2025-01-06") == {"n_new": 1}
    assert states("2025-01-13") == {"n_new": 1, "n_active": 1}
    assert states("2025-01-20") == {"n_returning": 1, "n_active": 1}
    assert states("2025-04-07") == {"n_active": 2}  # B: 88 days at week end
    assert states("2025-04-14") == {"n_active": 1, "n_dormant": 1}  # B: 95 days; A: 90 days
    assert states("2025-04-21") == {"n_dormant": 2}
    assert w[d("2025-04-21")]["newly_dormant"] == 1
    assert states("2025-06-02") == {"n_resurrected": 1, "n_dormant": 1}
    assert states("2025-07-07") == {"n_active": 1, "n_dormant": 1}
    assert states("2025-07-14") == {"n_active": 1, "n_churned": 1}
    assert w[d("2025-07-14")]["newly_churned"] == 1
    assert states("2025-11-17") == {"n_dormant": 1, "n_churned": 1}
    assert states("2025-11-24") == {"n_churned": 2}
    assert float(w[d("2025-01-06")]["gmv"]) == 20.0 and w[d("2025-01-06")]["buyers"] == 1
    for row in w.values():
        assert sum(row[k] for k in STATES) == row["buyers_to_date"]

    # a range run replaces exactly its weeks
    wh.conn.execute("UPDATE marts.member_lifecycle_weekly SET n_active = -1")
    build.build_lifecycle_weekly(wh.conn, d("2025-04-07"), d("2025-04-20"), th, TZ)
    w = _weeks(wh)
    assert [w[d(k)]["n_active"] for k in ("2025-03-31", "2025-04-07", "2025-04-14", "2025-04-21")] == [
        -1,
        2,
        1,
        -1,
    ]
    assert len(w) == 50


def test_cohort_retention(wh, th):
    for m in ("c1", "c2", "c3"):
        wh.member(m)
    wh.order("c1", "2025-01-10", 100).order("c1", "2025-03-05", 70)
    wh.order("c2", "2025-01-20", 50)
    wh.order("c3", "2025-02-03", 20).order("c3", "2025-02-20", 30).order("c3", "2025-03-10", 15, refund=15)
    wh.order("c3", "2025-04-01", 40)
    queries.load_orders(wh.conn, d("2025-04-06"), TZ)
    build.build_cohort_retention(wh.conn, d("2025-04-06"), TZ)
    rows = wh.conn.execute(
        """SELECT cohort_month, months_since, cohort_size, cohort_active, retention_classic, retention_unbounded,
                  cohort_revenue::DOUBLE, cohort_cumulative_revenue::DOUBLE
           FROM marts.cohort_retention ORDER BY 1, 2"""
    ).fetchall()
    jan, feb = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
    assert rows == [
        (jan, 0, 2, 2, 1.0, 1.0, 150.0, 150.0),
        (jan, 1, 2, 0, 0.0, 0.5, 0.0, 150.0),
        (jan, 2, 2, 1, 0.5, 0.5, 70.0, 220.0),
        (jan, 3, 2, 0, 0.0, 0.0, 0.0, 220.0),
        (feb, 0, 1, 1, 1.0, 1.0, 50.0, 50.0),
        (feb, 1, 1, 0, 0.0, 1.0, 0.0, 50.0),
        (feb, 2, 1, 1, 1.0, 1.0, 40.0, 90.0),
    ]


def test_default_as_of_is_end_of_latest_complete_week(wh):
    wh.member("a").order("a", "2025-01-02", 10).order("a", "2025-03-12", 10)  # a Wednesday
    assert queries.default_as_of(wh.conn, TZ) == d("2025-03-09")
    assert queries.default_as_of(wh.conn, TZ, "latest_order") == d("2025-03-12")
    # local time decides the day: 23:30 Beijing on Sunday is still Sunday
    wh.order("a", "2025-03-16", 10, hour=23)
    assert queries.default_as_of(wh.conn, TZ) == d("2025-03-16")


def test_column_comments_come_from_the_registry(rfm_wh, th):
    run(rfm_wh, th, "2025-03-30")
    comment = rfm_wh.conn.execute(
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'member_lifetime' AND column_name = 'churn_risk'"
    ).fetchone()[0]
    assert comment.startswith("流失风险 / Churn risk")
