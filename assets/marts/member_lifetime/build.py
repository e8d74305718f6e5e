"""Build the member lifetime tables from the canonical staging tables. Plain functions on a DuckDB connection;
the Dagster assets in assets.py are thin shells around them (and tests call them directly)."""

from __future__ import annotations

import datetime as dt
import time

import duckdb
import numpy as np
import pyarrow as pa

from assets.marts.member_lifetime import queries
from assets.marts.member_lifetime.model import FALLBACK, FITTED, BtydInputs, ClvModel, fit_clv, score
from xiaoshuju.metrics import column_comment
from xiaoshuju.metrics.member_lifetime import COMMENTED_COLUMNS
from xiaoshuju.settings import Thresholds
from xiaoshuju.warehouse import transaction

CLV_MODEL_DDL = """
CREATE TABLE marts.clv_model (
    as_of_date DATE, time_unit_days INTEGER, status VARCHAR, status_reason VARCHAR,
    n_customers BIGINT, n_repeat_buyers BIGINT,
    r DOUBLE, alpha DOUBLE, a DOUBLE, b DOUBLE, bgnbd_loglik DOUBLE, bgnbd_converged BOOLEAN,
    p DOUBLE, q DOUBLE, gamma DOUBLE, gg_loglik DOUBLE, gg_status VARCHAR, gg_n BIGINT,
    population_mean_spend DOUBLE, empirical_repeat_rate DOUBLE, empirical_aov DOUBLE,
    calibration_end DATE, holdout_days INTEGER, holdout_predicted_repeat DOUBLE, holdout_actual_repeat DOUBLE,
    holdout_error_pct DOUBLE, calibration_status VARCHAR, fit_seconds DOUBLE, fitted_at TIMESTAMPTZ
)"""

CALIBRATION_DDL = """
CREATE TABLE marts.clv_calibration (
    as_of_date DATE, calibration_end DATE, holdout_days INTEGER, bucket VARCHAR, bucket_order INTEGER,
    n_members BIGINT, predicted_repeat DOUBLE, actual_repeat DOUBLE,
    predicted_per_member DOUBLE, actual_per_member DOUBLE, error_pct DOUBLE
)"""

_MODEL_COLS = [
    "time_unit_days",
    "status",
    "status_reason",
    "n_customers",
    "n_repeat_buyers",
    "r",
    "alpha",
    "a",
    "b",
    "bgnbd_loglik",
    "bgnbd_converged",
    "p",
    "q",
    "gamma",
    "gg_loglik",
    "gg_status",
    "gg_n",
    "population_mean_spend",
    "empirical_repeat_rate",
    "empirical_aov",
    "fit_seconds",
]


def _comment_columns(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    cols = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = ?",
            [table.split(".")[1]],
        ).fetchall()
    }
    for col, key in COMMENTED_COLUMNS.get(table, {}).items():
        if col in cols:
            # COMMENT ON takes no bound parameters: quote the registry text as a SQL literal
            text = column_comment(key).replace("'", "''")
            conn.execute(f"COMMENT ON COLUMN {table}.{col} IS '{text}'")


# ---------------------------------------------------------------------------------------------------------------
# clv_model + clv_calibration


def holdout_window(first_day: dt.date, as_of: dt.date, preferred_days: int) -> int:
    """Holdout length: the churn horizon, shortened so the calibration period is at least twice as long; 0 when
    the history is too short (< 6 weeks) to say anything."""
    span = (as_of - first_day).days
    h = min(preferred_days, span // 3)
    return h if h >= 14 else 0


def calibration_table(
    conn: duckdb.DuckDBPyConnection, as_of: dt.date, th: Thresholds
) -> tuple[dict, list[tuple]]:
    """Refit on data up to as_of − holdout and compare predicted vs actual repeat purchase days in the holdout."""
    first = conn.execute("SELECT min(day) FROM _ml_days").fetchone()[0]
    empty = {
        "calibration_end": None,
        "holdout_days": None,
        "holdout_predicted_repeat": None,
        "holdout_actual_repeat": None,
        "holdout_error_pct": None,
    }
    if first is None:
        return {**empty, "calibration_status": "skipped: no purchases"}, []
    h = holdout_window(first, as_of, th.churn_horizon_days)
    if h == 0:
        return {**empty, "calibration_status": "skipped: less than 6 weeks of purchase history"}, []
    cal_end = as_of - dt.timedelta(days=h)
    queries.holdout_actuals(conn, cal_end, as_of)
    ids, inp = queries.btyd_inputs(conn, cal_end, th.btyd_time_unit_days, table="_ml_days_cal")
    model = fit_clv(inp, th)
    horizon_units = h / th.btyd_time_unit_days
    if model.status == FITTED:
        from assets.marts.member_lifetime import btyd

        (ux, utx, uT), _, inv = btyd.aggregate_rows(inp.x, inp.t_x, inp.T)
        pred = btyd.expected_purchases(model.bgnbd, np.full(ux.shape, horizon_units), ux, utx, uT)[inv]
    else:
        pred = np.full(inp.x.shape, model.empirical_repeat_rate * horizon_units)
    actual = (
        conn.execute("SELECT actual FROM _ml_holdout ORDER BY member_id").fetchnumpy()["actual"].astype(float)
    )
    bucket = np.minimum(inp.x, 7).astype(int)
    rows = []
    for b_id in [-1, *range(8)]:
        sel = np.ones(bucket.shape, bool) if b_id < 0 else bucket == b_id
        n = int(sel.sum())
        if n == 0:
            continue
        ps, ac = float(pred[sel].sum()), float(actual[sel].sum())
        label = "all" if b_id < 0 else ("7+" if b_id == 7 else str(b_id))
        err = (ps - ac) / ac * 100 if ac > 0 else None
        rows.append((as_of, cal_end, h, label, b_id, n, ps, ac, ps / n, ac / n, err))
    overall = rows[0]
    status = "ok" if model.status == FITTED else f"empirical: {model.status_reason.split('. ')[0]}"
    return {
        "calibration_end": cal_end,
        "holdout_days": h,
        "holdout_predicted_repeat": overall[6],
        "holdout_actual_repeat": overall[7],
        "holdout_error_pct": overall[10],
        "calibration_status": status,
    }, rows


def build_clv_model(conn: duckdb.DuckDBPyConnection, as_of: dt.date, th: Thresholds, tz: str) -> dict:
    """Fit the brand's CLV model at as_of (with a calibration-vs-holdout check) and write marts.clv_model and
    marts.clv_calibration in one transaction. Returns the model row as a dict."""
    queries.load_orders(conn, as_of, tz)
    _, inp = queries.btyd_inputs(conn, as_of, th.btyd_time_unit_days)
    model = fit_clv(inp, th)
    calib, calib_rows = calibration_table(conn, as_of, th)
    row = {"as_of_date": as_of, **{k: model.as_row()[k] for k in _MODEL_COLS}, **calib}
    cols = [
        c.split()[0] for c in CLV_MODEL_DDL.split("(", 1)[1].rsplit(")", 1)[0].replace("\n", " ").split(",")
    ]
    cols = [c.strip() for c in cols if c.strip()]
    with transaction(conn):
        conn.execute("DROP TABLE IF EXISTS marts.clv_model")
        conn.execute(CLV_MODEL_DDL)
        values = [row.get(c) for c in cols if c != "fitted_at"]
        placeholders = ", ".join("?" for _ in values)
        conn.execute(f"INSERT INTO marts.clv_model VALUES ({placeholders}, now())", values)
        conn.execute("DROP TABLE IF EXISTS marts.clv_calibration")
        conn.execute(CALIBRATION_DDL)
        if calib_rows:
            conn.executemany("INSERT INTO marts.clv_calibration VALUES (?,?,?,?,?,?,?,?,?,?,?)", calib_rows)
        _comment_columns(conn, "marts.clv_model")
    return row


def read_clv_model(conn: duckdb.DuckDBPyConnection) -> tuple[dt.date, ClvModel]:
    cur = conn.execute("SELECT * FROM marts.clv_model LIMIT 1")
    names = [d[0] for d in cur.description]
    rec = dict(zip(names, cur.fetchone(), strict=True))
    model = ClvModel(**{k: rec[k] for k in _MODEL_COLS})
    return rec["as_of_date"], model


# ---------------------------------------------------------------------------------------------------------------
# member_lifetime

_SEGMENT_SQL = """
CASE
    WHEN rfm_r <= 2 AND rfm_f = 5 THEN 'cant_lose'
    WHEN rfm_r <= 2 AND rfm_f >= 3 THEN 'at_risk'
    WHEN rfm_r = 1 THEN 'lost'
    WHEN rfm_r = 2 THEN 'hibernating'
    WHEN rfm_r = 3 AND rfm_f <= 2 THEN 'about_to_sleep'
    WHEN rfm_r = 3 AND rfm_f = 3 THEN 'need_attention'
    WHEN rfm_f >= 4 AND rfm_r = 5 THEN 'champions'
    WHEN rfm_f >= 4 THEN 'loyal'
    WHEN rfm_r = 5 AND rfm_f = 1 THEN 'new'
    WHEN rfm_r = 4 AND rfm_f = 1 THEN 'promising'
    ELSE 'potential_loyalist'
END"""

MEMBER_LIFETIME_SQL = f"""
CREATE TABLE marts.member_lifetime AS
WITH staff AS (SELECT member_id FROM staging.members WHERE is_staff),
ids AS (
    SELECT member_id FROM staging.members
    WHERE NOT is_staff AND (first_seen_at IS NULL OR CAST(timezone($tz, first_seen_at) AS DATE) <= $as_of)
    UNION
    SELECT member_id FROM _ml_ladder WHERE member_id NOT IN (SELECT member_id FROM staff)
),
agg AS (
    SELECT member_id, min(ts) AS first_order_at, max(ts) AS last_order_at, count(*) AS orders,
           sum(net)::DECIMAL(18,2) AS historic_clv
    FROM _ml_orders WHERE net > 0 AND member_id IS NOT NULL GROUP BY 1
),
days AS (
    SELECT member_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n_days,
           min(day) FILTER (WHERE day >= $week_start) AS week_first,
           max(day) FILTER (WHERE day < $week_start) AS prev_day
    FROM _ml_days GROUP BY 1
),
rfm AS (
    SELECT a.member_id,
        least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY date_diff('day', d.last_day, $as_of) DESC)))::INTEGER
            AS rfm_r,
        least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY a.orders)))::INTEGER AS rfm_f,
        least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY a.historic_clv)))::INTEGER AS rfm_m
    FROM agg a JOIN days d USING (member_id)
),
lad AS (
    SELECT member_id, attributed_gmv, buyers_served, referees_bought, l4_group, l4_referees, l4_gmv,
           least(l4_referees, l4_group, l4_gmv) AS c4, l3 AS c3, l2 AS c2, l1 AS c1
    FROM _ml_ladder
)
SELECT
    ids.member_id,
    m.display_name_masked,
    $as_of::DATE AS as_of_date,
    a.first_order_at, a.last_order_at,
    COALESCE(a.orders, 0)::BIGINT AS orders,
    COALESCE(a.historic_clv, 0)::DECIMAL(18,2) AS historic_clv,
    (a.historic_clv / a.orders)::DOUBLE AS aov,
    CASE WHEN d.n_days >= 2 THEN date_diff('day', d.first_day, d.last_day) / (d.n_days - 1) END::DOUBLE
        AS avg_days_between_orders,
    s.btyd_x::INTEGER AS btyd_x, s.btyd_t_x, s.btyd_T,
    s.p_alive, s.expected_orders_90d, s.predicted_clv_12m, s.churn_risk,
    CASE WHEN s.churn_risk IS NULL THEN NULL
         WHEN s.churn_risk < $band_low THEN 'low'
         WHEN s.churn_risk > $band_high THEN 'high' ELSE 'medium' END AS churn_band,
    CASE WHEN s.days_to_next IS NOT NULL THEN $as_of::DATE + s.days_to_next::INTEGER END AS expected_next_order_date,
    r.rfm_r, r.rfm_f, r.rfm_m,
    CASE WHEN r.rfm_r IS NOT NULL THEN {_SEGMENT_SQL} END AS rfm_segment,
    CASE WHEN d.first_day IS NULL THEN 'prospect'
         WHEN d.first_day >= $week_start THEN 'new'
         WHEN d.week_first IS NOT NULL AND date_diff('day', d.prev_day, d.week_first) <= $dormant THEN 'returning'
         WHEN d.week_first IS NOT NULL THEN 'resurrected'
         WHEN date_diff('day', d.last_day, $as_of) <= $dormant THEN 'active'
         WHEN date_diff('day', d.last_day, $as_of) <= $churned THEN 'dormant'
         ELSE 'churned' END AS lifecycle_state,
    CAST(date_trunc('month', d.first_day) AS DATE) AS cohort_month,
    h.home_group_id, h.serving_dac_id,
    CASE WHEN lad.c4 IS NOT NULL THEN 'L4'
         WHEN lad.c3 IS NOT NULL THEN 'L3'
         WHEN lad.c2 IS NOT NULL THEN 'L2'
         WHEN lad.c1 IS NOT NULL THEN 'L1' ELSE 'L0' END AS role_level,
    least(lad.c1, lad.c2, lad.c3, lad.c4) AS l1_at,
    least(lad.c2, lad.c3, lad.c4) AS l2_at,
    least(lad.c3, lad.c4) AS l3_at,
    lad.c4 AS l4_at,
    -- which L4 rule(s) held on l4_at: group / referees / attributed_gmv, joined by '+' on a tie
    NULLIF(concat_ws('+',
        CASE WHEN lad.l4_group = lad.c4 THEN 'group' END,
        CASE WHEN lad.l4_referees = lad.c4 THEN 'referees' END,
        CASE WHEN lad.l4_gmv = lad.c4 THEN 'attributed_gmv' END), '') AS l4_rule,
    COALESCE(lad.attributed_gmv, 0)::DECIMAL(18,2) AS attributed_gmv,
    COALESCE(lad.buyers_served, 0)::INTEGER AS buyers_served,
    COALESCE(lad.referees_bought, 0)::INTEGER AS referees_bought
FROM ids
LEFT JOIN staging.members m USING (member_id)
LEFT JOIN agg a USING (member_id)
LEFT JOIN days d USING (member_id)
LEFT JOIN _ml_scores s USING (member_id)
LEFT JOIN rfm r USING (member_id)
LEFT JOIN lad USING (member_id)
LEFT JOIN _ml_home h USING (member_id)
ORDER BY ids.member_id
"""


def member_scores(ids: list[str], inp: BtydInputs, model: ClvModel, th: Thresholds) -> pa.Table:
    sc = score(inp, model, th)

    def col(v: np.ndarray) -> pa.Array:
        return pa.array(v, type=pa.float64(), from_pandas=True)  # NaN → NULL

    return pa.table(
        {
            "member_id": pa.array(ids, type=pa.string()),
            "btyd_x": pa.array(inp.x.astype(np.int64)),
            "btyd_t_x": pa.array(inp.t_x),
            "btyd_T": pa.array(inp.T),
            "p_alive": col(sc.p_alive),
            "expected_orders_90d": col(sc.expected_orders_90d),
            "predicted_clv_12m": col(sc.predicted_clv_12m),
            "churn_risk": col(sc.churn_risk),
            "days_to_next": col(sc.days_to_next_order),
        }
    )


def build_member_lifetime(conn: duckdb.DuckDBPyConnection, th: Thresholds, tz: str) -> dict:
    """Score every member with the model in marts.clv_model (at its as-of date) and write marts.member_lifetime."""
    t0 = time.perf_counter()
    as_of, model = read_clv_model(conn)
    queries.load_orders(conn, as_of, tz)
    ids, inp = queries.btyd_inputs(conn, as_of, th.btyd_time_unit_days)
    scores = member_scores(ids, inp, model, th)
    t_score = time.perf_counter() - t0
    conn.register("_ml_scores_arrow", scores)
    conn.execute("CREATE OR REPLACE TEMP TABLE _ml_scores AS SELECT * FROM _ml_scores_arrow")
    conn.unregister("_ml_scores_arrow")
    queries.ladder(
        conn,
        as_of,
        tz,
        th.l4_min_group_members,
        th.l4_min_referees_90d,
        th.l4_min_attributed_gmv,
        th.l4_min_buyers_served,
    )
    queries.home_and_serving(conn, as_of, tz)
    week_start = as_of - dt.timedelta(days=as_of.weekday())
    params = {
        "tz": tz,
        "as_of": as_of,
        "week_start": week_start,
        "band_low": th.churn_band_low,
        "band_high": th.churn_band_high,
        "dormant": th.dormant_after_days,
        "churned": th.churned_after_days,
    }
    with transaction(conn):
        conn.execute("DROP TABLE IF EXISTS marts.member_lifetime")
        conn.execute(MEMBER_LIFETIME_SQL, params)
        _comment_columns(conn, "marts.member_lifetime")
    n, buyers = conn.execute("SELECT count(*), count(first_order_at) FROM marts.member_lifetime").fetchone()
    return {
        "as_of_date": as_of,
        "rows": n,
        "buyers": buyers,
        "model_status": model.status,
        "status_reason": model.status_reason,
        "score_seconds": t_score,
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------------------------------------
# cohort_retention

COHORT_SQL = """
CREATE TABLE marts.cohort_retention AS
WITH m AS (
    SELECT member_id, CAST(date_trunc('month', day) AS DATE) AS month, sum(net)::DECIMAL(18,2) AS revenue,
           bool_or(net > 0) AS purchased
    FROM _ml_orders WHERE member_id IS NOT NULL GROUP BY 1, 2
),
c AS (SELECT member_id, min(month) FILTER (WHERE purchased) AS cohort_month,
             max(month) FILTER (WHERE purchased) AS last_month FROM m GROUP BY 1),
sizes AS (SELECT cohort_month, count(*) AS cohort_size FROM c WHERE cohort_month IS NOT NULL GROUP BY 1),
grid AS (
    SELECT s.cohort_month, s.cohort_size,
           unnest(range(0, date_diff('month', s.cohort_month, CAST(date_trunc('month', $as_of::DATE) AS DATE)) + 1))
               AS months_since
    FROM sizes s
),
act AS (
    SELECT c.cohort_month, date_diff('month', c.cohort_month, m.month) AS months_since,
           count(*) FILTER (WHERE m.purchased) AS active_members, sum(m.revenue) AS revenue
    FROM m JOIN c USING (member_id) WHERE c.cohort_month IS NOT NULL AND m.month >= c.cohort_month
    GROUP BY 1, 2
),
later AS (
    SELECT cohort_month, date_diff('month', cohort_month, last_month) AS last_k, count(*) AS n
    FROM c WHERE cohort_month IS NOT NULL GROUP BY 1, 2
)
SELECT g.cohort_month, g.months_since::INTEGER AS months_since, g.cohort_size,
       COALESCE(a.active_members, 0) AS cohort_active,
       COALESCE(a.active_members, 0) / g.cohort_size AS retention_classic,
       (SELECT COALESCE(sum(l.n), 0) FROM later l
         WHERE l.cohort_month = g.cohort_month AND l.last_k >= g.months_since)::BIGINT AS cohort_active_or_later,
       COALESCE(a.revenue, 0)::DECIMAL(18,2) AS cohort_revenue,
       $as_of::DATE AS as_of_date
FROM grid g LEFT JOIN act a USING (cohort_month, months_since)
ORDER BY g.cohort_month, g.months_since
"""


def build_cohort_retention(conn: duckdb.DuckDBPyConnection, as_of: dt.date, tz: str) -> dict:
    queries.load_orders(conn, as_of, tz)
    with transaction(conn):
        conn.execute("DROP TABLE IF EXISTS marts.cohort_retention")
        conn.execute(COHORT_SQL, {"as_of": as_of})
        conn.execute("ALTER TABLE marts.cohort_retention ADD COLUMN retention_unbounded DOUBLE")
        conn.execute("ALTER TABLE marts.cohort_retention ADD COLUMN cohort_cumulative_revenue DECIMAL(18,2)")
        conn.execute("ALTER TABLE marts.cohort_retention ADD COLUMN cohort_revenue_per_member DOUBLE")
        conn.execute(
            """
            UPDATE marts.cohort_retention t SET
                retention_unbounded = t.cohort_active_or_later / t.cohort_size,
                cohort_cumulative_revenue = c.cum,
                cohort_revenue_per_member = c.cum / t.cohort_size
            FROM (SELECT cohort_month, months_since,
                         sum(cohort_revenue) OVER (PARTITION BY cohort_month ORDER BY months_since) AS cum
                  FROM marts.cohort_retention) c
            WHERE c.cohort_month = t.cohort_month AND c.months_since = t.months_since
            """
        )
        _comment_columns(conn, "marts.cohort_retention")
    n, cohorts = conn.execute(
        "SELECT count(*), count(DISTINCT cohort_month) FROM marts.cohort_retention"
    ).fetchone()
    return {"as_of_date": as_of, "rows": n, "cohorts": cohorts}


# ---------------------------------------------------------------------------------------------------------------
# member_lifecycle_weekly

LIFECYCLE_DDL = """
CREATE TABLE IF NOT EXISTS marts.member_lifecycle_weekly (
    week_start DATE PRIMARY KEY, week_end DATE,
    n_new BIGINT, n_returning BIGINT, n_resurrected BIGINT, n_active BIGINT, n_dormant BIGINT, n_churned BIGINT,
    buyers BIGINT, buyers_to_date BIGINT, newly_dormant BIGINT, newly_churned BIGINT, gmv DECIMAL(18,2)
)"""

# Non-buying weeks between two purchase days are active, then dormant, then churned by the days since the last
# purchase at week end; each state is a contiguous run of weeks, added as +1/−1 events and summed over weeks.
LIFECYCLE_SQL = """
WITH d AS (
    SELECT member_id, day, CAST(date_trunc('week', day) AS DATE) AS wk,
           lag(day) OVER (PARTITION BY member_id ORDER BY day) AS prev_day,
           lead(day) OVER (PARTITION BY member_id ORDER BY day) AS next_day
    FROM _ml_days WHERE day <= $last_end
),
buy_weeks AS (  -- one row per member-week with a purchase: its first purchase day and the purchase before
    SELECT member_id, wk, arg_min(prev_day, day) AS prev_day, min(day) AS first_in_week,
           bool_or(prev_day IS NULL) AS is_first
    FROM d GROUP BY 1, 2
),
buys AS (
    SELECT wk,
           count(*) FILTER (WHERE is_first) AS n_new,
           count(*) FILTER (WHERE NOT is_first AND date_diff('day', prev_day, first_in_week) <= $dormant)
               AS n_returning,
           count(*) FILTER (WHERE NOT is_first AND date_diff('day', prev_day, first_in_week) > $dormant)
               AS n_resurrected
    FROM buy_weeks GROUP BY 1
),
gaps AS (  -- weeks strictly between the week of a purchase and the week of the next purchase
    SELECT member_id, day,
           wk + 7 AS gap_from,
           CASE WHEN next_day IS NULL THEN DATE '9999-12-27'
                ELSE CAST(date_trunc('week', next_day) AS DATE) - 7 END AS gap_to
    FROM d
),
runs AS (
    SELECT 'active' AS state, gap_from AS w0,
           least(gap_to, CAST(date_trunc('week', day + $dormant - 6) AS DATE)) AS w1 FROM gaps
    UNION ALL
    SELECT 'dormant', greatest(gap_from, CAST(date_trunc('week', day + $dormant - 6) AS DATE) + 7),
           least(gap_to, CAST(date_trunc('week', day + $churned - 6) AS DATE)) FROM gaps
    UNION ALL
    SELECT 'churned', greatest(gap_from, CAST(date_trunc('week', day + $churned - 6) AS DATE) + 7), gap_to
    FROM gaps
),
ev AS (
    SELECT state, w0 AS wk, 1 AS delta FROM runs WHERE w0 <= w1
    UNION ALL
    SELECT state, w1 + 7, -1 FROM runs WHERE w0 <= w1 AND w1 < DATE '9999-12-27'
),
weeks AS (
    SELECT CAST(range AS DATE) AS wk
    FROM range(CAST(least(date_trunc('week', (SELECT min(day) FROM _ml_days)), $first_start) AS TIMESTAMP),
               CAST($last_start AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 7 DAY)
),
ev_w AS (
    SELECT wk,
           sum(delta) FILTER (WHERE state = 'active') AS d_active,
           sum(delta) FILTER (WHERE state = 'dormant') AS d_dormant,
           sum(delta) FILTER (WHERE state = 'churned') AS d_churned,
           count(*) FILTER (WHERE state = 'dormant' AND delta = 1) AS newly_dormant,
           count(*) FILTER (WHERE state = 'churned' AND delta = 1) AS newly_churned
    FROM ev GROUP BY 1
),
gmv AS (
    SELECT CAST(date_trunc('week', day) AS DATE) AS wk, sum(net) AS gmv FROM _ml_orders
    WHERE day <= $last_end GROUP BY 1
),
series AS (
    SELECT w.wk,
           COALESCE(b.n_new, 0) AS n_new, COALESCE(b.n_returning, 0) AS n_returning,
           COALESCE(b.n_resurrected, 0) AS n_resurrected,
           sum(COALESCE(e.d_active, 0)) OVER win AS n_active,
           sum(COALESCE(e.d_dormant, 0)) OVER win AS n_dormant,
           sum(COALESCE(e.d_churned, 0)) OVER win AS n_churned,
           sum(COALESCE(b.n_new, 0)) OVER win AS buyers_to_date,
           COALESCE(e.newly_dormant, 0) AS newly_dormant, COALESCE(e.newly_churned, 0) AS newly_churned,
           COALESCE(g.gmv, 0) AS gmv
    FROM weeks w
    LEFT JOIN buys b USING (wk) LEFT JOIN ev_w e USING (wk) LEFT JOIN gmv g USING (wk)
    WINDOW win AS (ORDER BY w.wk ROWS UNBOUNDED PRECEDING)
)
SELECT wk AS week_start, wk + 6 AS week_end, n_new, n_returning, n_resurrected, n_active, n_dormant, n_churned,
       n_new + n_returning + n_resurrected AS buyers, buyers_to_date, newly_dormant, newly_churned,
       gmv::DECIMAL(18,2) AS gmv
FROM series WHERE wk >= $first_start AND wk <= $last_start
ORDER BY wk
"""


def build_lifecycle_weekly(
    conn: duckdb.DuckDBPyConnection, first_week: dt.date, last_week: dt.date, th: Thresholds, tz: str
) -> dict:
    """Recompute the weeks whose Monday is in [first_week, last_week] and replace exactly those rows."""
    first_week = first_week - dt.timedelta(days=first_week.weekday())
    last_week = last_week - dt.timedelta(days=last_week.weekday())
    last_end = last_week + dt.timedelta(days=6)
    queries.load_orders(conn, last_end, tz)
    conn.execute(LIFECYCLE_DDL)
    with transaction(conn):
        conn.execute(
            "DELETE FROM marts.member_lifecycle_weekly WHERE week_start BETWEEN ? AND ?",
            [first_week, last_week],
        )
        conn.execute(
            "INSERT INTO marts.member_lifecycle_weekly " + LIFECYCLE_SQL,
            {
                "last_end": last_end,
                "last_start": last_week,
                "first_start": first_week,
                "dormant": th.dormant_after_days,
                "churned": th.churned_after_days,
            },
        )
        _comment_columns(conn, "marts.member_lifecycle_weekly")
    n = conn.execute(
        "SELECT count(*) FROM marts.member_lifecycle_weekly WHERE week_start BETWEEN ? AND ?",
        [first_week, last_week],
    ).fetchone()[0]
    return {"first_week": first_week, "last_week": last_week, "rows": n}


__all__ = [
    "FALLBACK",
    "FITTED",
    "build_clv_model",
    "build_member_lifetime",
    "build_cohort_retention",
    "build_lifecycle_weekly",
    "read_clv_model",
]
