"""Bench of the member lifetime stage: fit + scoring at M (≈100k members, ≈0.5M orders) — target ≤ 30 s.

The warehouse is built from a BG/NBD + Gamma-Gamma simulation with known parameters (independent of the
simulator package), so the bench also reports parameter recovery. Usage::

    python bench/bench_member_lifetime.py            # M: 100k members
    python bench/bench_member_lifetime.py --members 1000000   # L
    python bench/bench_member_lifetime.py --simulator M [--truth-dir DIR]   # the simulator's brand vs its truth

With ``--simulator`` the simulator's ground truth (orders, groups, memberships, referrals; member_id = person_id)
is loaded straight into staging, so the comparison measures this mart, not ingestion. It also prints the L4
members by rule (true 大C or not) and evaluate.bgnbd_truth_decomposition: the same BG/NBD fit on the true orders
with exact times / purchase days, with / without the members whose purchases a zombie group cut.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.marts.member_lifetime import btyd, build, evaluate, queries  # noqa: E402
from xiaoshuju.settings import Thresholds  # noqa: E402
from xiaoshuju.warehouse import DUCKDB_CONFIG, apply_schema  # noqa: E402

TRUE_BG = btyd.BgNbdParams(r=0.9, alpha=8.0, a=0.7, b=3.5)  # weekly rates; ≈ 5 purchases per member
TRUE_GG = btyd.GammaGammaParams(p=6.0, q=4.0, gamma=20.0)  # mean spend pγ/(q−1) = 40 yuan
AS_OF = dt.date(2026, 6, 28)  # a Sunday
HISTORY_DAYS = 730


def simulate_orders(n: int, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    """Members join (first purchase) uniformly over two years; purchase days follow BG/NBD; spend Gamma-Gamma."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, HISTORY_DAYS, n).astype(float)  # days after the start
    lam = rng.gamma(TRUE_BG.r, 1 / TRUE_BG.alpha, n) / 7  # per day
    p = rng.beta(TRUE_BG.a, TRUE_BG.b, n)
    nu = rng.gamma(TRUE_GG.q, 1 / TRUE_GG.gamma, n)
    who, when = [np.arange(n)], [first.copy()]
    now, alive = first.copy(), np.ones(n, bool)
    while alive.any():
        # wait Exp(λ) for the next purchase; after each repeat purchase drop out with probability p
        idx = np.flatnonzero(alive)
        nxt = now[idx] + rng.exponential(1.0, idx.size) / lam[idx]
        ok = nxt < HISTORY_DAYS
        alive[idx[~ok]] = False
        idx, nxt = idx[ok], nxt[ok]
        now[idx] = nxt
        who.append(idx)
        when.append(nxt)
        alive[idx[rng.random(idx.size) < p[idx]]] = False
    who_a = np.concatenate(who)
    day = np.floor(np.concatenate(when)).astype(int)
    spend = np.round(rng.gamma(TRUE_GG.p, 1 / nu[who_a]), 2)
    start = AS_OF - dt.timedelta(days=HISTORY_DAYS - 1)
    ts = np.datetime64(start) + day.astype("timedelta64[D]") + np.timedelta64(4, "h")  # 12:00 Beijing
    k = who_a.size
    ids = np.char.add("m_", np.char.zfill(who_a.astype(str), 16))
    orders = pa.table(
        {
            "order_id": pa.array(np.char.add("canonical:", np.arange(k).astype(str))),
            "source": pa.array(np.full(k, "canonical")),
            "source_order_no": pa.array(np.arange(k).astype(str)),
            "member_id": pa.array(ids),
            "status": pa.array(np.full(k, "completed")),
            "is_paid": pa.array(np.ones(k, bool)),
            "created_at": pa.array(ts.astype("datetime64[us]")),
            "paid_at": pa.array(ts.astype("datetime64[us]")),
            "paid_amount": pa.array(spend),
            "refund_amount": pa.array(np.zeros(k)),
            "net_amount": pa.array(spend),
            "source_file_sha256": pa.array(np.full(k, "bench")),
        }
    )
    members = pa.table(
        {"member_id": pa.array(np.char.add("m_", np.char.zfill(np.arange(n).astype(str), 16)))}
    )
    return orders, members


def run_simulator(scale: str, truth_dir: str | None, seed: int) -> None:
    import json

    th, tz = Thresholds(), "Asia/Shanghai"
    with tempfile.TemporaryDirectory() as tmp:
        if truth_dir is None:
            from xiaoshuju.simulator import simulate

            t = time.perf_counter()
            truth_dir = str(Path(tmp) / "truth")
            simulate(scale, seed=seed, out_dir=Path(tmp) / "inbox", truth_dir=truth_dir)
            print(f"simulate {scale}: {time.perf_counter() - t:.0f} s")
        conn = duckdb.connect(str(Path(tmp) / "warehouse.duckdb"), config=DUCKDB_CONFIG)
        apply_schema(conn)
        evaluate.load_truth_as_staging(conn, Path(truth_dir))
        n_m, n_o = conn.execute(
            "SELECT (SELECT count(*) FROM staging.members), (SELECT count(*) FROM staging.orders)"
        ).fetchone()
        as_of = queries.default_as_of(conn, tz)
        t = time.perf_counter()
        build.build_clv_model(conn, as_of, th, tz)
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        build.build_member_lifetime(conn, th, tz)
        t_score = time.perf_counter() - t
        print(
            f"{n_m:,} members, {n_o:,} orders, as of {as_of}: clv_model {t_fit:.1f} s, member_lifetime "
            f"{t_score:.1f} s, fit + scoring {t_fit + t_score:.1f} s"
        )
        print(json.dumps(evaluate.parameter_scores(conn, Path(truth_dir)), indent=1, default=str))
        lad = evaluate.ladder_scores(conn, Path(truth_dir), None)
        print(json.dumps({k: v for k, v in lad.items() if k != "promotion_lag_days"}, default=str))
        print("L4 by first rule (true 大C / others):")
        print(
            conn.execute(
                "SELECT s.is_dac, m.l4_rule, count(*) FROM marts.member_lifetime m "
                "JOIN read_parquet(?) s ON s.person_id = m.member_id WHERE m.role_level = 'L4' "
                "GROUP BY ALL ORDER BY ALL",
                [str(Path(truth_dir) / "persons.parquet")],
            ).fetchall()
        )
        print("BG/NBD fitted on the true orders (relative errors; see evaluate.bgnbd_truth_decomposition):")
        print(json.dumps(evaluate.bgnbd_truth_decomposition(Path(truth_dir)), indent=1))
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--simulator", choices=["S", "M", "L"], help="use the simulator's brand of this scale")
    ap.add_argument("--truth-dir", help="an existing simulator truth directory (skips simulating)")
    args = ap.parse_args()
    if args.simulator or args.truth_dir:
        run_simulator(args.simulator or "M", args.truth_dir, 7 if args.simulator else args.seed)
        return
    th = Thresholds()
    with tempfile.TemporaryDirectory() as tmp:
        conn = duckdb.connect(str(Path(tmp) / "warehouse.duckdb"), config=DUCKDB_CONFIG)
        apply_schema(conn)
        t0 = time.perf_counter()
        orders, members = simulate_orders(args.members, args.seed)
        conn.register("o", orders)
        conn.register("m", members)
        conn.execute(
            "INSERT INTO staging.orders BY NAME SELECT * REPLACE (created_at::TIMESTAMPTZ AS created_at, "
            "paid_at::TIMESTAMPTZ AS paid_at) FROM o"
        )
        conn.execute("INSERT INTO staging.members BY NAME SELECT * FROM m")
        print(
            f"setup: {args.members:,} members, {orders.num_rows:,} orders in {time.perf_counter() - t0:.1f} s"
        )

        t = time.perf_counter()
        row = build.build_clv_model(conn, AS_OF, th, "Asia/Shanghai")
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        info = build.build_member_lifetime(conn, th, "Asia/Shanghai")
        t_score = time.perf_counter() - t
        t = time.perf_counter()
        build.build_cohort_retention(conn, AS_OF, "Asia/Shanghai")
        t_cohort = time.perf_counter() - t
        t = time.perf_counter()
        build.build_lifecycle_weekly(
            conn, AS_OF - dt.timedelta(days=HISTORY_DAYS), AS_OF, th, "Asia/Shanghai"
        )
        t_weekly = time.perf_counter() - t
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(f"clv_model (fit + calibration refit): {t_fit:.1f} s  status={row['status']}")
        print(f"member_lifetime (scoring + RFM + ladder + write): {t_score:.1f} s  rows={info['rows']:,}")
        print(f"fit + scoring total: {t_fit + t_score:.1f} s  (target at M ≤ 30 s)")
        print(
            f"cohort_retention: {t_cohort:.1f} s; member_lifecycle_weekly (all {HISTORY_DAYS // 7} weeks): "
            f"{t_weekly:.1f} s"
        )
        print(f"peak RSS: {rss_mb:,.0f} MB")
        # purchases happen on days, so the daily-discretised truth is only approximately BG/NBD at weekly scale
        for k, true in (
            ("r", TRUE_BG.r),
            ("alpha", TRUE_BG.alpha),
            ("a", TRUE_BG.a),
            ("b", TRUE_BG.b),
            ("p", TRUE_GG.p),
            ("q", TRUE_GG.q),
            ("gamma", TRUE_GG.gamma),
        ):
            est = row[k]
            print(
                f"  {k:>5}: true {true:7.3f}  fitted {est if est is None else f'{est:7.3f}'}"
                + ("" if est is None else f"  ({(est - true) / true:+.1%})")
            )
        print(
            f"  holdout: predicted {row['holdout_predicted_repeat']:,.0f} vs actual "
            f"{row['holdout_actual_repeat']:,.0f} repeat purchase days ({row['holdout_error_pct']:+.1f}%)"
        )
        conn.close()


if __name__ == "__main__":
    main()
