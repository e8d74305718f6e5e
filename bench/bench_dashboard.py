"""Server-side render time of every dashboard page, cold and warm, measured with streamlit's AppTest.

    python bench/bench_dashboard.py --home data                 # the current serving snapshot of a real run
    python bench/bench_dashboard.py --synthetic M                # a synthetic snapshot shaped like scale M

Cold = all st.cache_data caches cleared, then one run of the page (reads Parquet, computes, renders).
Warm = the same page run again (cache hit on the snapshot version). Targets at M: warm ≤ 1 s, cold ≤ 3 s.
Prints a markdown table. The synthetic snapshot has the documented mart columns (docs/marts/*.md) with random
values: it measures the dashboard, not the marts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "dashboards")]

PAGES = {
    "overview": "overview",
    "members": "members",
    "groups": "groups",
    "dac": "dac",
    "fission": "fission",
    "data_quality": "quality",
}
SCALES = {"S": (3_000, 30, 300, 26), "M": (100_000, 1_000, 3_000, 52)}  # members, groups, 大C, weeks


def synthetic_tables(
    members: int, groups: int, dacs: int, weeks: int, seed: int = 1
) -> dict[str, pl.DataFrame]:
    from dashboards import data

    rng = np.random.default_rng(seed)
    week0 = date(2025, 1, 6)
    wk = [week0 + timedelta(days=7 * i) for i in range(weeks)]
    dac_ids = [f"m_d{i:015d}" for i in range(dacs)]
    group_ids = [f"g_{i:016d}" for i in range(groups)]
    owner = rng.integers(0, dacs, groups)
    mem_ids = [f"m_{i:016d}" for i in range(members)]
    home = rng.integers(0, groups, members)
    risk = rng.beta(2, 2, members)
    segs = np.array(
        [
            "champions",
            "loyal",
            "potential_loyalist",
            "new",
            "promising",
            "need_attention",
            "about_to_sleep",
            "at_risk",
            "cant_lose",
            "hibernating",
            "lost",
        ]
    )
    ml = pl.DataFrame(
        {
            "member_id": mem_ids,
            "display_name_masked": ["王*"] * members,
            "orders": rng.poisson(3, members),
            "historic_clv": rng.gamma(2, 150, members).round(2),
            "aov": rng.gamma(2, 50, members),
            "p_alive": 1 - risk,
            "expected_orders_90d": rng.gamma(1, 1, members),
            "predicted_clv_12m": rng.gamma(2, 100, members),
            "churn_risk": risk,
            "churn_band": np.where(risk < 0.33, "low", np.where(risk > 0.66, "high", "medium")),
            "rfm_segment": segs[rng.integers(0, len(segs), members)],
            "lifecycle_state": np.array(["new", "active", "dormant", "churned"])[rng.integers(0, 4, members)],
            "cohort_month": [date(2025, 1 + int(m), 1) for m in rng.integers(0, 12, members)],
            "home_group_id": [group_ids[h] for h in home],
            "serving_dac_id": [dac_ids[owner[h]] for h in home],
            "role_level": np.array(["L0", "L1", "L2", "L3", "L4"])[rng.integers(0, 5, members)],
            "last_order_at": [datetime(2025, 12, 1, tzinfo=UTC)] * members,
        }
    )
    n = groups * weeks
    gv = pl.DataFrame(
        {
            "group_id": np.repeat(group_ids, weeks),
            "week_start": wk * groups,
            "owner_member_id": np.repeat([dac_ids[o] for o in owner], weeks),
            "members_end": rng.integers(5, 300, n),
            "joins": rng.integers(0, 10, n),
            "leaves": rng.integers(0, 5, n),
            "messages": rng.integers(0, 2000, n),
            "member_messages": rng.integers(0, 1500, n),
            "speakers": rng.integers(0, 60, n),
            "speak_rate": rng.random(n),
            "owner_share": rng.random(n),
            "owner_dependence": rng.integers(0, 10, n),
            "member_questions": rng.integers(0, 30, n),
            "median_first_response_minutes": rng.gamma(2, 15, n),
            "buyers": rng.integers(0, 40, n),
            "orders": rng.integers(0, 60, n),
            "gmv": rng.gamma(2, 2000, n),
            "conversion": rng.random(n) / 5,
            **{
                s: rng.random(n) * 100
                for s in (
                    "score_speak_rate",
                    "score_activity",
                    "score_conversion",
                    "score_response",
                    "score_growth",
                    "vitality_score",
                )
            },
            "lifecycle_state": np.array(["new", "active", "declining", "dormant", "zombie"])[
                rng.integers(0, 5, n)
            ],
        }
    )
    m = dacs * weeks
    dcw = pl.DataFrame(
        {
            "week_start": wk * dacs,
            "dac_id": np.repeat(dac_ids, weeks),
            **{
                k: rng.gamma(2, 500, m)
                for k in (
                    "own_gmv",
                    "gmv_group",
                    "gmv_first_touch",
                    "gmv_last_touch",
                    "gmv_attributed_avg",
                    "referral_value",
                    "referral_value_to_date",
                    "own_gmv_to_date",
                    "historic_clv",
                    "predicted_clv_12m",
                )
            },
            **{
                k: rng.integers(0, 20, m)
                for k in (
                    "attributed_orders",
                    "messages_sent",
                    "groups_owned",
                    "members_served",
                    "active_members",
                    "new_referrals",
                    "referee_first_orders",
                    "promotions",
                )
            },
            "clv_referral_cell": np.array(["Champions", "Affluents", "Advocates", "Misers"])[
                rng.integers(0, 4, m)
            ],
            "rank": rng.integers(1, dacs + 1, m),
        }
    )
    kpis = pl.DataFrame(
        {
            "week_start": wk,
            # every KPI column the overview page reads (dashboards.data.COLUMNS is that contract)
            **{k: rng.gamma(5, 1000, weeks) for k in data.COLUMNS[data.WEEKLY_KPIS] if k != "week_start"},
        }
    )
    parent = [
        None if i < dacs else mem_ids[rng.integers(0, i)] if i < members else None for i in range(members)
    ]
    tree = pl.DataFrame(
        {
            "member_id": mem_ids,
            "parent_id": parent,
            "root_dac_id": [dac_ids[owner[h]] for h in home],
            "generation": rng.integers(0, 6, members),
            "is_dac": [False] * members,
        }
    )
    stats = pl.DataFrame(
        {
            "root_dac_id": dac_ids,
            "tree_size": rng.integers(1, 500, dacs),
            "tree_depth": rng.integers(0, 8, dacs),
            "max_breadth": rng.integers(1, 100, dacs),
            "structural_virality": rng.random(dacs) * 3,
            "k_factor": rng.random(dacs),
            "cycle_time_days": rng.gamma(2, 5, dacs),
            "promoted_dacs": rng.integers(0, 5, dacs),
            "downline_gmv": rng.gamma(2, 5000, dacs),
        }
    )
    methods = ["group", "first_touch", "last_touch", "average"]
    conc = pl.DataFrame(
        {
            "week_start": [w for w in wk for _ in methods],
            "method": methods * weeks,
            "gini": rng.random(4 * weeks),
            "dacs_for_half_gmv": rng.integers(1, 100, 4 * weeks),
            "top20_share": rng.random(4 * weeks),
        }
    )
    months = [date(2025, mm, 1) for mm in range(1, 13)]
    cr = pl.DataFrame(
        [
            {
                "cohort_month": c,
                "months_since": k,
                "cohort_size": 1000,
                "cohort_active": 1000 // (k + 1),
                "retention_classic": 1 / (k + 1),
                "cohort_active_or_later": 1000 // (k + 1),
                "retention_unbounded": 1 / (k + 1),
                "cohort_revenue": 1e4 / (k + 1),
            }
            for i, c in enumerate(months)
            for k in range(12 - i)
        ]
    )
    lw = pl.DataFrame(
        {
            "week_start": wk,
            **{
                f"n_{s}": rng.integers(0, 5000, weeks)
                for s in ("new", "returning", "resurrected", "active", "dormant", "churned")
            },
        }
    )
    files = 500
    manifest = pl.DataFrame(
        {
            "file_name": [f"f{i}.csv" for i in range(files)],
            "detected_format": ["youzan_orders"] * files,
            "row_count": rng.integers(1, 10000, files),
            "status": ["registered"] * files,
            "first_seen_at": [datetime(2025, 12, 1, tzinfo=UTC)] * files,
        }
    )
    rec = pl.DataFrame(
        {
            "file_name": manifest["file_name"],
            "rows_in": manifest["row_count"],
            "rows_loaded": manifest["row_count"],
            "rows_quarantined": [0] * files,
            "reconciled": [True] * files,
        }
    )
    return {
        "marts.weekly_kpis": kpis,
        "marts.member_lifetime": ml,
        "marts.group_vitality_weekly": gv,
        "marts.dac_contribution_weekly": dcw,
        "marts.referral_tree": tree,
        "marts.referral_tree_stats": stats,
        "marts.dac_concentration_weekly": conc,
        "marts.cohort_retention": cr,
        "marts.member_lifecycle_weekly": lw,
        "marts.dacs": pl.DataFrame({"dac_id": dac_ids, "dac_since": [week0] * dacs}),
        "staging.groups": pl.DataFrame(
            {
                "group_id": group_ids,
                "group_name": [f"社群{i}" for i in range(groups)],
                "owner_member_id": [dac_ids[o] for o in owner],
            }
        ),
        "landing.manifest": manifest,
        "ops.reconciliation": rec,
    }


def bench(repeat: int = 3) -> list[tuple[str, float, float]]:
    import streamlit as st
    from dashboard_apptest import make_app

    from dashboards import data

    key, _ = data.current()
    dac = next(iter(data.dac_labels(key)), None) if key else None
    out = []
    for page in PAGES:
        colds, warms = [], []
        for _ in range(repeat):
            st.cache_data.clear()
            t0 = time.perf_counter()
            at = make_app(page)
            colds.append(time.perf_counter() - t0)
            assert not at.exception, [e.message for e in at.exception]
            t0 = time.perf_counter()
            at.run()
            warms.append(time.perf_counter() - t0)
        out.append((page, statistics.median(colds), statistics.median(warms)))
        if dac:  # the same page with a 大C filter, warm
            at = make_app(page, dac=dac)
            t0 = time.perf_counter()
            at.run()
            out.append((f"{page} (大C filter)", float("nan"), time.perf_counter() - t0))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="XIAOSHUJU_HOME whose current serving snapshot to measure")
    ap.add_argument("--synthetic", choices=sorted(SCALES), help="build a synthetic snapshot of this scale")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.home and not args.synthetic:
        ap.error("give --home or --synthetic")
    if args.synthetic:
        from snapshot_factory import write_snapshot

        home = Path(tempfile.mkdtemp(prefix="bench_dash_"))
        t0 = time.perf_counter()
        write_snapshot(home / "serving", synthetic_tables(*SCALES[args.synthetic]))
        print(f"synthetic {args.synthetic} snapshot built in {time.perf_counter() - t0:.1f}s at {home}")
    else:
        home = Path(args.home).resolve()
    os.environ["XIAOSHUJU_HOME"] = str(home)
    rows = bench(args.repeat)
    label = f"synthetic {args.synthetic}" if args.synthetic else str(home)
    print(f"\nDashboard server-side render (AppTest, median of {args.repeat}) — {label}\n")
    print("| page | cold (s) | warm (s) | cold ≤ 3 s | warm ≤ 1 s |")
    print("|---|---:|---:|:-:|:-:|")
    for page, cold, warm in rows:
        c = "—" if cold != cold else f"{cold:.2f}"
        ok_c = "—" if cold != cold else ("yes" if cold <= 3 else "NO")
        print(f"| {page} | {c} | {warm:.2f} | {ok_c} | {'yes' if warm <= 1 else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
