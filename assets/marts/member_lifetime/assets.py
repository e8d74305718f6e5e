"""Dagster shells of the member lifetime mart; the logic is in build.py, queries.py, model.py and btyd.py."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.marts.member_lifetime import build, queries
from pipelines.partitions import weekly_partitions
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import apply_schema, markdown_preview

STAGING = {
    k: dg.AssetKey(["staging", k]) for k in ("orders", "members", "referrals", "groups", "group_memberships")
}
CLV_MODEL = dg.AssetKey(["marts", "clv_model"])
MEMBER_LIFETIME = dg.AssetKey(["marts", "member_lifetime"])
COHORTS = dg.AssetKey(["marts", "cohort_retention"])
LIFECYCLE = dg.AssetKey(["marts", "member_lifecycle_weekly"])


class AsOfConfig(dg.Config):
    """The date the member snapshot describes. Empty = by ``as_of_rule``: ``week_end`` (the end of the latest
    complete week with data: the last Sunday on or before the latest order day) or ``latest_order``."""

    as_of_date: str = ""
    as_of_rule: str = "week_end"


def _as_of(conn, config: AsOfConfig, tz: str) -> dt.date | None:
    if config.as_of_date:
        return dt.date.fromisoformat(config.as_of_date)
    return queries.default_as_of(conn, tz, config.as_of_rule)


@dg.asset(
    key=CLV_MODEL,
    group_name="marts",
    deps=[STAGING["orders"], STAGING["members"]],
    pool="duckdb_writer",
    kinds={"duckdb", "python"},
    owners=["team:analytics"],
    check_specs=[
        dg.AssetCheckSpec(
            "model_is_fitted",
            asset=CLV_MODEL,
            blocking=False,
            description="The BG/NBD model was fitted (not the empirical fallback) and "
            "predicts the holdout's repeat purchases within ±20%.",
        )
    ],
)
def clv_model(
    context: dg.AssetExecutionContext,
    config: AsOfConfig,
    warehouse: DuckDBResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    """How the brand's customers buy, in seven numbers: the BG/NBD purchase-and-dropout parameters (r, α, a, b)
    and the Gamma-Gamma spend parameters (p, q, γ), fitted on every buyer's history up to the as-of date. Every
    P(alive), churn risk and predicted 12-month value in the member table comes from this row. It also says how far
    to trust them: the same model fitted on older data is asked to predict the most recent weeks' repeat purchases,
    and the prediction is compared with what really happened. On too little data it says so and uses plain
    averages instead of a model."""
    s = settings.get()
    th = s.thresholds
    with warehouse.get_connection() as conn:
        apply_schema(conn)
        as_of = _as_of(conn, config, s.timezone)
        if as_of is None:  # no paid orders yet: still write the (fallback) model so downstream assets run
            as_of = dt.datetime.now(ZoneInfo(s.timezone)).date()
            context.log.warning(f"No paid orders in staging.orders yet: as-of date set to today ({as_of}).")
        row = build.build_clv_model(conn, as_of, th, s.timezone)
        calib = markdown_preview(
            conn,
            "SELECT bucket, n_members, round(predicted_repeat, 1) AS predicted, "
            "actual_repeat AS actual, round(error_pct, 1) AS error_pct "
            "FROM marts.clv_calibration ORDER BY bucket_order",
            limit=12,
        )
    fitted = row["status"] == build.FITTED
    if not fitted:
        context.log.warning(f"CLV model fallback: {row['status_reason']}")
    err = row["holdout_error_pct"]
    calibrated_ok = err is not None and abs(err) <= 20
    params = ", ".join(
        f"{k}={row[k]:.4g}" for k in ("r", "alpha", "a", "b", "p", "q", "gamma") if row[k] is not None
    )
    return dg.MaterializeResult(
        metadata={
            "as_of_date": str(as_of),
            "status": row["status"],
            "status_reason": dg.MetadataValue.md(row["status_reason"]),
            "parameters": params or "none (empirical fallback)",
            "n_customers": row["n_customers"],
            "n_repeat_buyers": row["n_repeat_buyers"],
            "bgnbd_loglik": row["bgnbd_loglik"],
            "holdout_error_pct": err,
            "calibration_status": row["calibration_status"],
            "calibration": dg.MetadataValue.md(calib),
            "fit_seconds": round(row["fit_seconds"], 3),
            "dagster/row_count": 1,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="model_is_fitted",
                passed=bool(fitted and calibrated_ok),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "status": row["status"],
                    "reason": row["status_reason"],
                    "holdout_error_pct": err if err is not None else "n/a",
                },
            )
        ],
    )


@dg.asset(
    key=MEMBER_LIFETIME,
    group_name="marts",
    deps=[CLV_MODEL, *STAGING.values()],
    pool="duckdb_writer",
    kinds={"duckdb", "python"},
    owners=["team:analytics"],
    check_specs=[
        dg.AssetCheckSpec(
            "one_row_per_member_and_sane",
            asset=MEMBER_LIFETIME,
            blocking=True,
            description="member_id unique; probabilities in [0, 1]; ladder dates "
            "l1 ≤ l2 ≤ l3 ≤ l4; role level matches its dates.",
        )
    ],
)
def member_lifetime(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """One row per member of the brand, as of the model's as-of date: what they have spent (historic CLV, AOV),
    how likely they are still a customer (P(alive)), the chance they will not buy in the next 90 days (churn risk
    and band), what they are expected to spend in the next 12 months, when they are expected to order next, their
    RFM segment and lifecycle state, the group and 大C who serve them, and how far they have climbed the
    小c → 大C ladder (L0 member … L4 大C, with the date each step was reached). This is the list a 大C works from
    to decide whom to call this week; names are masked."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        apply_schema(conn)
        if not conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' "
            "AND table_name = 'clv_model'"
        ).fetchone()[0]:
            raise dg.Failure(
                "marts.clv_model is missing: materialise clv_model first (it sets the as-of date)."
            )
        info = build.build_member_lifetime(conn, s.thresholds, s.timezone)
        bad = conn.execute(
            """SELECT count(*) - count(DISTINCT member_id),
                      count(*) FILTER (WHERE p_alive NOT BETWEEN 0 AND 1 OR churn_risk NOT BETWEEN 0 AND 1),
                      count(*) FILTER (WHERE l1_at > l2_at OR l2_at > l3_at OR l3_at > l4_at
                                         OR (role_level = 'L4') <> (l4_at IS NOT NULL))
               FROM marts.member_lifetime"""
        ).fetchone()
        levels = dict(
            conn.execute(
                "SELECT role_level, count(*) FROM marts.member_lifetime GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        bands = dict(
            conn.execute(
                "SELECT coalesce(churn_band, 'no purchase'), count(*) FROM marts.member_lifetime "
                "GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        preview = markdown_preview(
            conn,
            "SELECT member_id, display_name_masked, orders, historic_clv, round(p_alive, 3) AS p_alive, "
            "round(churn_risk, 3) AS churn_risk, round(predicted_clv_12m, 1) AS clv_12m, rfm_segment, "
            "lifecycle_state, role_level FROM marts.member_lifetime ORDER BY predicted_clv_12m DESC NULLS LAST",
        )
    if info["model_status"] != build.FITTED:
        context.log.warning(f"Member scores use the empirical fallback: {info['status_reason']}")
    return dg.MaterializeResult(
        metadata={
            "as_of_date": str(info["as_of_date"]),
            "dagster/row_count": info["rows"],
            "buyers": info["buyers"],
            "model_status": info["model_status"],
            "model_status_reason": dg.MetadataValue.md(info["status_reason"]),
            "role_levels": dg.MetadataValue.json({k: int(v) for k, v in levels.items()}),
            "churn_bands": dg.MetadataValue.json({k: int(v) for k, v in bands.items()}),
            "seconds": round(info["seconds"], 2),
            "preview": dg.MetadataValue.md(preview),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="one_row_per_member_and_sane",
                passed=bool(sum(bad) == 0),
                metadata={
                    "duplicate_members": int(bad[0]),
                    "probabilities_out_of_range": int(bad[1]),
                    "ladder_inconsistent": int(bad[2]),
                },
            )
        ],
    )


@dg.asset(
    key=COHORTS,
    group_name="marts",
    deps=[CLV_MODEL, STAGING["orders"], STAGING["members"]],
    pool="duckdb_writer",
    kinds={"duckdb"},
    owners=["team:analytics"],
)
def cohort_retention(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Do the customers we win keep coming back? Members are grouped by the month of their first purchase; for
    each later month we show how many bought again that month (classic retention), how many bought that month or
    later (unbounded retention) and how much the cohort spent — so a brand can see whether this spring's new
    customers stick better than last autumn's. Uses the same as-of date as the CLV model."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        apply_schema(conn)
        as_of, _ = build.read_clv_model(conn)
        info = build.build_cohort_retention(conn, as_of, s.timezone)
        preview = markdown_preview(
            conn,
            "SELECT cohort_month, cohort_size, round(retention_classic, 3) AS m1_retention, "
            "round(retention_unbounded, 3) AS m1_unbounded FROM marts.cohort_retention "
            "WHERE months_since = 1 ORDER BY cohort_month DESC",
            limit=12,
        )
    return dg.MaterializeResult(
        metadata={
            "as_of_date": str(as_of),
            "dagster/row_count": info["rows"],
            "cohorts": info["cohorts"],
            "month_1_retention": dg.MetadataValue.md(preview),
        }
    )


@dg.asset(
    key=LIFECYCLE,
    group_name="marts",
    deps=[STAGING["orders"], STAGING["members"]],
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_writer",
    kinds={"duckdb"},
    owners=["team:analytics"],
    check_specs=[
        dg.AssetCheckSpec(
            "states_add_up",
            asset=LIFECYCLE,
            blocking=True,
            description="Every week: new + returning + resurrected + active + dormant + "
            "churned = buyers to date.",
        )
    ],
)
def member_lifecycle_weekly(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Week by week, where the brand's customers stand: how many bought for the first time, came back, came back
    after a long absence (resurrected), are still active without buying this week, have gone dormant (no purchase
    for 3 months) or are lost (6 months). The trend shows whether the base is growing or quietly draining, weeks
    before GMV does. One row per Monday–Sunday week; a run over a range of weeks replaces only those weeks."""
    s = settings.get()
    window = context.partition_time_window
    first_week = window.start.date()
    last_week = (window.end - dt.timedelta(days=1)).date()
    with warehouse.get_connection() as conn:
        apply_schema(conn)
        info = build.build_lifecycle_weekly(conn, first_week, last_week, s.thresholds, s.timezone)
        bad = conn.execute(
            """SELECT count(*) FILTER (WHERE n_new + n_returning + n_resurrected + n_active + n_dormant + n_churned
                                           <> buyers_to_date)
               FROM marts.member_lifecycle_weekly WHERE week_start BETWEEN ? AND ?""",
            [info["first_week"], info["last_week"]],
        ).fetchone()[0]
        preview = markdown_preview(
            conn,
            "SELECT week_start, n_new, n_returning, n_resurrected, n_active, n_dormant, n_churned, gmv "
            "FROM marts.member_lifecycle_weekly WHERE week_start BETWEEN ? AND ? ORDER BY week_start DESC",
            [info["first_week"], info["last_week"]],
        )
    return dg.MaterializeResult(
        metadata={
            "weeks": f"{info['first_week']} .. {info['last_week']}",
            "dagster/row_count": info["rows"],
            "preview": dg.MetadataValue.md(preview),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="states_add_up", passed=bool(bad == 0), metadata={"weeks_not_adding_up": int(bad)}
            )
        ],
    )
