"""Dagster shells of the 大C contribution and fission mart; the logic is in attribution.py, tree.py, weekly.py."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.marts.dac_contribution.attribution import (
    BRAND_DIRECT,
    attribution_reconciliation,
    build_dacs,
    build_order_attribution,
    l4_not_dac,
)
from assets.marts.dac_contribution.tables import ensure_tables
from assets.marts.dac_contribution.tree import build_referral_tree, build_tree_stats
from assets.marts.dac_contribution.weekly import (
    build_alerts,
    build_concentration_weekly,
    build_contribution_weekly,
)
from pipelines.partitions import weekly_partitions
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import markdown_preview, transaction

GROUP = "marts"
OWNERS = ["team:data-engineering"]
STAGING = {
    name: dg.AssetKey(["staging", name])
    for name in ("orders", "members", "groups", "group_memberships", "messages", "referrals")
}
MEMBER_LIFETIME = dg.AssetKey(["marts", "member_lifetime"])
DACS = dg.AssetKey(["marts", "dacs"])
ORDER_ATTRIBUTION = dg.AssetKey(["marts", "order_attribution"])
REFERRAL_TREE = dg.AssetKey(["marts", "referral_tree"])
REFERRAL_ANOMALIES = dg.AssetKey(["marts", "referral_anomalies"])
REFERRAL_TREE_STATS = dg.AssetKey(["marts", "referral_tree_stats"])
REFERRAL_KFACTOR_COHORT = dg.AssetKey(["marts", "referral_kfactor_cohort"])
REFERRAL_GENERATION_GMV = dg.AssetKey(["marts", "referral_generation_gmv"])


def _count(conn, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0])  # table names are ours


@dg.asset(
    key=DACS,
    group_name=GROUP,
    deps=[MEMBER_LIFETIME, STAGING["groups"]],
    kinds={"duckdb"},
    owners=OWNERS,
    pool="duckdb_writer",
)
def dacs(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """The brand's 大C: every member who runs a WeChat group, plus L4 members who sell to others as 分销员 / 团长,
    with the date they became one (L4 members who only refer friends are strong referrers, not 大C). Everything else in the 大C mart — attribution,
    contribution, alerts — is about these people."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        ensure_tables(conn)
        with transaction(conn):
            n = build_dacs(conn, s.timezone)
        l4, owners, sellers = conn.execute(
            "SELECT count(*) FILTER (WHERE is_l4), count(*) FILTER (WHERE is_group_owner), "
            "count(*) FILTER (WHERE is_seller) FROM marts.dacs"
        ).fetchone()
        left_out = l4_not_dac(conn)
        preview = markdown_preview(
            conn, "SELECT * FROM marts.dacs ORDER BY dac_since DESC NULLS LAST, dac_id"
        )
    return dg.MaterializeResult(
        metadata={
            "dg/row_count": n,
            "l4_members": int(l4),
            "group_owners": int(owners),
            "sellers": int(sellers),
            "l4_without_group_or_sales": int(left_out),
            "preview": dg.MetadataValue.md(preview),
        }
    )


@dg.asset(
    key=ORDER_ATTRIBUTION,
    group_name=GROUP,
    deps=[DACS, STAGING["orders"], STAGING["referrals"], STAGING["groups"], STAGING["group_memberships"]],
    kinds={"duckdb"},
    owners=OWNERS,
    pool="duckdb_writer",
    check_specs=[
        dg.AssetCheckSpec(
            "order_attribution_reconciles",
            asset=ORDER_ATTRIBUTION,
            description="For every method, GMV attributed to all ids (brand_direct included) equals the GMV of "
            "paid orders, and every paid order appears exactly once.",
            blocking=True,
        )
    ],
)
def order_attribution(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Every paid order with the 大C it is credited to, three ways side by side: the owner of the group the buyer was
    in when paying, the 大C who first referred the buyer, and the 分销员/团长 named on the order. Orders no 大C
    touched are 'brand direct'. Brand managers compare the methods instead of trusting one; each sums to total GMV."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        ensure_tables(conn)
        with transaction(conn):
            n = build_order_attribution(conn, s.timezone, s.thresholds.first_touch_window_days)
        rec = attribution_reconciliation(conn)
        preview = markdown_preview(conn, "SELECT * FROM marts.order_attribution ORDER BY paid_at DESC")
    ok = all(r["ok"] for r in rec)
    table = "\n".join(
        f"| {r['method']} | {r['total_gmv']:,.2f} | {r['dac_gmv']:,.2f} | {r['brand_direct_gmv']:,.2f} |"
        for r in rec
    )
    md = "| method | total GMV | to 大C | brand direct |\n|---|---|---|---|\n" + table
    return dg.MaterializeResult(
        metadata={
            "dg/row_count": n,
            "first_touch_window_days": s.thresholds.first_touch_window_days,
            "gmv_by_method": dg.MetadataValue.md(md),
            "preview": dg.MetadataValue.md(preview),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="order_attribution_reconciles",
                passed=ok,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={r["method"]: dg.MetadataValue.json(r) for r in rec},
                description=None
                if ok
                else "Attributed GMV does not add up to total GMV: an order is lost or "
                "counted twice; rebuild staging and rerun.",
            )
        ],
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            REFERRAL_TREE,
            group_name=GROUP,
            kinds={"duckdb"},
            owners=OWNERS,
            deps=[DACS, STAGING["referrals"], STAGING["members"]],
            description="Who brought whom: every referred member with their referrer, the root 大C of their tree, their "
            "generation and join date — the brand's fission (裂变) made visible.",
        ),
        dg.AssetSpec(
            REFERRAL_ANOMALIES,
            group_name=GROUP,
            kinds={"duckdb"},
            owners=OWNERS,
            deps=[STAGING["referrals"]],
            description="Referral records that cannot be true as exported — members referring themselves and "
            "referral loops — with what we did about each, so the brand can fix the source.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "referral_input_clean",
            asset=REFERRAL_ANOMALIES,
            description="No self-referrals and no referral cycles in the input (WARN: they are dropped/cut).",
        )
    ],
    pool="duckdb_writer",
)
def referral_tree(context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource):
    """Who brought whom, as one forest of referral trees (first binding per member), plus the anomalies found."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        ensure_tables(conn)
        with transaction(conn):
            info = build_referral_tree(conn, s.timezone)
        preview = markdown_preview(
            conn, "SELECT * FROM marts.referral_tree ORDER BY generation DESC, member_id"
        )
        anomalies = markdown_preview(
            conn, "SELECT kind, member_id, detail_en FROM marts.referral_anomalies", limit=20
        )
    yield dg.MaterializeResult(
        asset_key=REFERRAL_TREE,
        metadata={
            "dg/row_count": info["nodes"],
            "trees": info["roots"],
            "max_generation": info["max_generation"],
            "preview": dg.MetadataValue.md(preview),
        },
    )
    yield dg.MaterializeResult(
        asset_key=REFERRAL_ANOMALIES,
        metadata={
            "self_referrals": info["self_referrals"],
            "cycles_cut": info["cycles"],
            "preview": dg.MetadataValue.md(anomalies),
        },
    )
    clean = info["self_referrals"] == 0 and info["cycles"] == 0
    yield dg.AssetCheckResult(
        asset_key=REFERRAL_ANOMALIES,
        check_name="referral_input_clean",
        passed=clean,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"self_referrals": info["self_referrals"], "cycles_cut": info["cycles"]},
        description=None
        if clean
        else f"{info['self_referrals']} self-referral(s) ignored and {info['cycles']} "
        "referral cycle(s) cut; see marts.referral_anomalies.",
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            REFERRAL_TREE_STATS,
            group_name=GROUP,
            kinds={"duckdb"},
            owners=OWNERS,
            deps=[REFERRAL_TREE, STAGING["orders"]],
            description="How each 大C's referral tree spreads: size, depth, breadth, structural virality (broadcast "
            "vs. chain-like spread), K-factor, viral cycle time and the new 大C it raised.",
        ),
        dg.AssetSpec(
            REFERRAL_KFACTOR_COHORT,
            group_name=GROUP,
            kinds={"duckdb"},
            owners=OWNERS,
            deps=[REFERRAL_TREE, STAGING["members"]],
            description="Brand-wide K-factor by the month members joined: are newer members still bringing friends?",
        ),
        dg.AssetSpec(
            REFERRAL_GENERATION_GMV,
            group_name=GROUP,
            kinds={"duckdb"},
            owners=OWNERS,
            deps=[REFERRAL_TREE, STAGING["orders"]],
            description="Downline GMV per tree and generation — for insight only, never a basis for multi-level "
            "payouts (forbidden by Chinese law).",
        ),
    ],
    pool="duckdb_writer",
)
def referral_tree_stats(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
):
    """Fission metrics per referral tree, per join cohort and per generation."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        ensure_tables(conn)
        with transaction(conn):
            info = build_tree_stats(conn, s.timezone, s.thresholds.kfactor_window_days)
        preview = markdown_preview(conn, "SELECT * FROM marts.referral_tree_stats ORDER BY tree_size DESC")
        cohorts = markdown_preview(
            conn, "SELECT * FROM marts.referral_kfactor_cohort ORDER BY cohort_month DESC"
        )
        n_stats, n_cohort, n_gen = (
            _count(conn, t)
            for t in ("referral_tree_stats", "referral_kfactor_cohort", "referral_generation_gmv")
        )
    yield dg.MaterializeResult(
        asset_key=REFERRAL_TREE_STATS,
        metadata={
            "dg/row_count": n_stats,
            "largest_tree": info["largest_tree"],
            "max_structural_virality": info["max_structural_virality"],
            "preview": dg.MetadataValue.md(preview),
        },
    )
    yield dg.MaterializeResult(
        asset_key=REFERRAL_KFACTOR_COHORT,
        metadata={"dg/row_count": n_cohort, "preview": dg.MetadataValue.md(cohorts)},
    )
    yield dg.MaterializeResult(asset_key=REFERRAL_GENERATION_GMV, metadata={"dg/row_count": n_gen})


# ---- weekly, partitioned (one run may cover a range of weeks: BackfillPolicy.single_run) ----------------------
DAC_CONTRIBUTION_WEEKLY = dg.AssetKey(["marts", "dac_contribution_weekly"])
DAC_CONCENTRATION_WEEKLY = dg.AssetKey(["marts", "dac_concentration_weekly"])
DAC_ALERTS = dg.AssetKey(["marts", "dac_alerts"])

WEEKLY_RECONCILES_SQL = f"""
SELECT a.week_start,
       sum(a.net_amount) AS total,
       max(w.g) + coalesce(sum(a.net_amount) FILTER (WHERE a.attributed_dac_group = '{BRAND_DIRECT}'), 0) AS by_group,
       max(w.f) + coalesce(sum(a.net_amount) FILTER (WHERE a.attributed_dac_first_touch = '{BRAND_DIRECT}'), 0) AS by_first,
       max(w.l) + coalesce(sum(a.net_amount) FILTER (WHERE a.attributed_dac_last_touch = '{BRAND_DIRECT}'), 0) AS by_last
FROM marts.order_attribution a
LEFT JOIN (SELECT week_start, sum(gmv_group) AS g, sum(gmv_first_touch) AS f, sum(gmv_last_touch) AS l
           FROM marts.dac_contribution_weekly GROUP BY 1) w USING (week_start)
WHERE a.week_start >= $lo AND a.week_start < $hi
GROUP BY 1
HAVING NOT (coalesce(by_group, -1) = total AND coalesce(by_first, -1) = total AND coalesce(by_last, -1) = total)
"""


def _week_range(context: dg.AssetExecutionContext):
    window = context.partition_time_window
    return window.start.date(), window.end.date()


@dg.asset(
    key=DAC_CONTRIBUTION_WEEKLY,
    group_name=GROUP,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        DACS,
        ORDER_ATTRIBUTION,
        REFERRAL_TREE,
        MEMBER_LIFETIME,
        STAGING["messages"],
        STAGING["groups"],
        STAGING["group_memberships"],
        STAGING["referrals"],
    ],
    kinds={"duckdb"},
    owners=OWNERS,
    pool="duckdb_writer",
    check_specs=[
        dg.AssetCheckSpec(
            "dac_weekly_reconciles",
            asset=DAC_CONTRIBUTION_WEEKLY,
            description="In every week, for every method, GMV credited to 大C plus brand-direct GMV equals total GMV; "
            "one row per 大C and week.",
        )
    ],
)
def dac_contribution_weekly(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Each 大C's week: what they bought themselves, what their groups, first referrals and own selling brought in
    (three attributions), how many members they serve and keep active, whom they referred, how their members' loyalty
    compares with the brand's, the new 大C raised below them, and their rank. This is how a brand sees which 大C
    create value — and which only look busy."""
    s = settings.get()
    lo, hi = _week_range(context)
    with warehouse.get_connection() as conn:
        ensure_tables(conn)
        with transaction(conn):
            n = build_contribution_weekly(conn, lo, hi, s.timezone)
        bad = conn.execute(WEEKLY_RECONCILES_SQL, {"lo": lo, "hi": hi}).fetchall()
        dupes = conn.execute(
            "SELECT count(*) - count(DISTINCT (week_start, dac_id)) FROM marts.dac_contribution_weekly "
            "WHERE week_start >= $lo AND week_start < $hi",
            {"lo": lo, "hi": hi},
        ).fetchone()[0]
        preview = markdown_preview(
            conn,
            "SELECT week_start, dac_id, rank, gmv_attributed_avg, gmv_group, gmv_first_touch, gmv_last_touch, "
            "own_gmv, members_served, active_members, clv_referral_cell FROM marts.dac_contribution_weekly "
            "WHERE week_start = (SELECT max(week_start) FROM marts.dac_contribution_weekly "
            "WHERE week_start >= $lo AND week_start < $hi) ORDER BY rank",
            {"lo": lo, "hi": hi},
        )
    return dg.MaterializeResult(
        metadata={"dg/row_count": n, "weeks": f"{lo} .. {hi}", "preview": dg.MetadataValue.md(preview)},
        check_results=[
            dg.AssetCheckResult(
                check_name="dac_weekly_reconciles",
                passed=not bad and not dupes,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"weeks_not_reconciling": len(bad), "duplicate_rows": int(dupes)},
                description=None
                if not bad and not dupes
                else f"{len(bad)} week(s) where 大C + brand-direct GMV ≠ "
                f"total GMV{' (first: ' + str(bad[0][0]) + ')' if bad else ''}; {dupes} duplicate (week, 大C) row(s)",
            )
        ],
    )


@dg.asset(
    key=DAC_CONCENTRATION_WEEKLY,
    group_name=GROUP,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[DAC_CONTRIBUTION_WEEKLY, ORDER_ATTRIBUTION],
    kinds={"duckdb"},
    owners=OWNERS,
    pool="duckdb_writer",
)
def dac_concentration_weekly(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    """How dependent the brand is on a few 大C, week by week and per attribution method: the Gini of attributed GMV,
    how few 大C make half of it, and the top fifth's share. A rising Gini means the 商业元生态 is becoming
    single-centred — a risk if one of those 大C leaves."""
    lo, hi = _week_range(context)
    with warehouse.get_connection() as conn:
        ensure_tables(conn)
        with transaction(conn):
            n = build_concentration_weekly(conn, lo, hi)
        preview = markdown_preview(
            conn,
            "SELECT * FROM marts.dac_concentration_weekly WHERE week_start >= $lo AND week_start < $hi "
            "ORDER BY week_start DESC, method",
            {"lo": lo, "hi": hi},
            limit=8,
        )
    return dg.MaterializeResult(metadata={"dg/row_count": n, "preview": dg.MetadataValue.md(preview)})


@dg.asset(
    key=DAC_ALERTS,
    group_name=GROUP,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[DACS, ORDER_ATTRIBUTION, STAGING["messages"]],
    kinds={"duckdb"},
    owners=OWNERS,
    pool="duckdb_writer",
)
def dac_alerts(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """大C who need a call this week: those who were among the most active quarter and have gone quiet for one to four
    weeks (no message, no order credited to them), and those newly promoted to 大C who deserve a welcome — each
    with the reason in a sentence, in Chinese and English."""
    s = settings.get()
    lo, hi = _week_range(context)
    t = s.thresholds
    with warehouse.get_connection() as conn:
        ensure_tables(conn)
        with transaction(conn):
            n = build_alerts(conn, lo, hi, s.timezone, t.dac_silent_min_days, t.dac_silent_max_days)
        silent, new = conn.execute(
            "SELECT count(*) FILTER (WHERE alert_type = 'silent_top_dac'), count(*) FILTER (WHERE alert_type = 'new_dac') "
            "FROM marts.dac_alerts WHERE week_start >= $lo AND week_start < $hi",
            {"lo": lo, "hi": hi},
        ).fetchone()
        preview = markdown_preview(
            conn,
            "SELECT week_start, dac_id, alert_type, reason_zh FROM marts.dac_alerts "
            "WHERE week_start >= $lo AND week_start < $hi ORDER BY week_start DESC, alert_type",
            {"lo": lo, "hi": hi},
        )
    return dg.MaterializeResult(
        metadata={
            "dg/row_count": n,
            "silent_top_dac": int(silent),
            "new_dac": int(new),
            "preview": dg.MetadataValue.md(preview),
        }
    )
