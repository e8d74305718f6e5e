"""Render time of one week's PDF (target ≤ 15 s at scale M).

    python bench/bench_report.py                       # synthetic M-sized snapshot (100k members, 2k 大C, 2 years)
    python bench/bench_report.py --home data --week 2026-W47   # a real snapshot under $XIAOSHUJU_HOME

Times the whole `produce_weekly_report` (snapshot read + charts + two layout passes + font subset + write) in a
fresh process state for the first render and again warm.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_S = 15.0


def synthetic_snapshot(
    serving: Path, week: dt.date, members: int = 100_000, dacs: int = 2_000, weeks: int = 104, seed: int = 1
) -> None:
    rng = np.random.default_rng(seed)
    mondays = [week - dt.timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    kpis = pl.DataFrame(
        {
            "week_start": mondays,
            "week_label": [f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in mondays],
            "gmv": rng.uniform(8e5, 1.2e6, weeks),
            "orders": rng.integers(8000, 12000, weeks),
            "buyers": rng.integers(6000, 9000, weeks),
            "new_members": rng.integers(1500, 2500, weeks),
            "active_groups": rng.integers(300, 400, weeks),
            "zombie_groups": rng.integers(20, 60, weeks),
            "active_dacs": rng.integers(1500, 2000, weeks),
            "new_dacs": rng.integers(5, 40, weeks),
            "predicted_clv_12m_base": rng.uniform(2e7, 3e7, weeks),
            "gmv_attr_group": rng.uniform(4e5, 6e5, weeks),
            "gmv_attr_first_touch": rng.uniform(2e5, 4e5, weeks),
            "gmv_attr_last_touch": rng.uniform(3e5, 5e5, weeks),
        }
    )
    for k in [
        "gmv",
        "orders",
        "buyers",
        "new_members",
        "active_groups",
        "zombie_groups",
        "active_dacs",
        "new_dacs",
        "predicted_clv_12m_base",
    ]:
        prev = pl.col(k).shift(1).cast(pl.Float64)
        kpis = kpis.with_columns(((pl.col(k).cast(pl.Float64) - prev) / prev).alias(f"{k}_wow"))
    n_dac_rows = dacs * weeks
    dac = pl.DataFrame(
        {
            "week_start": np.repeat(np.array(mondays, dtype="datetime64[D]"), dacs),
            "dac_id": np.tile([f"m_{i:016x}" for i in range(dacs)], weeks),
            "gmv_attributed_avg": rng.gamma(1.5, 300, n_dac_rows),
            "own_gmv": rng.gamma(1.2, 80, n_dac_rows),
            "members_served": rng.integers(5, 300, n_dac_rows),
            "is_active": rng.random(n_dac_rows) > 0.2,
            "is_dac_this_week": np.ones(n_dac_rows, dtype=bool),
        }
    ).with_columns(pl.col("week_start").cast(pl.Date))
    surnames = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
    ml = pl.DataFrame(
        {
            "member_id": [f"m_{i:016x}" for i in range(members)],
            "display_name_masked": [surnames[i % len(surnames)] + "*" for i in range(members)],
            "churn_band": rng.choice(["low", "medium", "high", None], members),
            "historic_clv": rng.gamma(1.3, 400, members),
            "predicted_clv_12m": rng.gamma(1.1, 200, members),
            "as_of_date": [week + dt.timedelta(days=6)] * members,
        }
    )
    alerts = pl.DataFrame(
        {
            "week_start": [week] * 25,
            "group_id": [f"g_{i:016x}" for i in range(25)],
            "owner_member_id": [f"m_{i:016x}" for i in range(25)],
            "alert_type": ["zombie"] * 8 + ["declining"] * 17,
            "members_end": rng.integers(20, 400, 25),
            "reason_zh": ["自 2026-10-26 起除群主/员工外无人发言、无成交，已沉寂 27 天（群成员 45 人）"] * 25,
            "reason_en": ["No member speech or order since 2026-10-26: silent for 27 days (45 members)"] * 25,
        }
    )
    manifest = pl.DataFrame(
        {
            "file_sha256": [f"{i:064x}" for i in range(1200)],
            "file_name": ["x.csv"] * 1200,
            "status": ["registered"] * 1190 + ["binary"] * 10,
            "row_count": rng.integers(100, 20000, 1200),
        }
    )
    recon = pl.DataFrame(
        {
            "file_sha256": manifest["file_sha256"][:1190],
            "file_name": ["x.csv"] * 1190,
            "rows_in": rng.integers(100, 20000, 1190),
            "rows_loaded": rng.integers(100, 20000, 1190),
            "rows_quarantined": rng.integers(0, 20, 1190),
            "reconciled": [True] * 1190,
        }
    )
    tables = {
        "marts.weekly_kpis": kpis,
        "marts.dac_contribution_weekly": dac,
        "marts.member_lifetime": ml,
        "marts.group_alerts": alerts,
        "landing.manifest": manifest,
        "ops.reconciliation": recon,
    }
    version = "vbench"
    path = serving / version
    path.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.write_parquet(path / f"{name}.parquet")
    (path / "_snapshot.json").write_text(
        json.dumps(
            {
                "version": version,
                "built_at": "",
                "data_as_of": None,
                "tables": {k: v.height for k, v in tables.items()},
            }
        )
    )
    (serving / "CURRENT").write_text(version)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="XIAOSHUJU_HOME with a published snapshot (default: synthetic M snapshot)")
    ap.add_argument("--week", default="2026-W47")
    args = ap.parse_args()

    from assets.reports.weekly import produce_weekly_report
    from assets.reports.weeks import parse_week
    from xiaoshuju.settings import load_settings

    week = parse_week(args.week)
    with tempfile.TemporaryDirectory() as tmp:
        if args.home:
            settings = load_settings(args.home).ensure_dirs()
            label = f"snapshot at {args.home}"
        else:
            settings = load_settings(Path(tmp) / "home").ensure_dirs()
            t = time.perf_counter()
            synthetic_snapshot(settings.serving, week)
            label = f"synthetic M snapshot (built in {time.perf_counter() - t:.1f}s)"
        times = []
        for _ in range(2):
            t = time.perf_counter()
            out = produce_weekly_report(settings, week)
            times.append(time.perf_counter() - t)
        size = out.pdf.stat().st_size if out.pdf else 0
        print(
            f"weekly PDF {args.week} from {label}: status {out.status}, {out.pages} pages, {size / 1024:.0f} KiB"
        )
        print(
            f"render: first {times[0]:.2f}s, warm {times[1]:.2f}s (target ≤ {TARGET_S:.0f}s) "
            f"{'OK' if times[0] <= TARGET_S else 'SLOW'}"
        )
    return 0 if times[0] <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
