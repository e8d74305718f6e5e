"""Bench the 大C contribution stage: time per step and peak RSS.

    python bench/bench_dac_contribution.py --scale M            # synthetic staging at ~100k members (target ≤ 20 s)
    python bench/bench_dac_contribution.py --scale L            # ~1M members
    python bench/bench_dac_contribution.py --chain 1000000      # tree metrics on one 1M-node chain (worst depth)
    python bench/bench_dac_contribution.py --warehouse data/warehouse.duckdb   # an ingested (e.g. simulator) warehouse

The synthetic brand is vectorised numpy: members join over a year, ~1% own groups (大C), ~60% were referred by an
earlier member (preferential to 大C), memberships with some leaves, orders and messages. It writes only the staging
tables this stage reads, plus a marts.member_lifetime stand-in (role_level, l4_at, CLV columns).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.marts.dac_contribution.attribution import (  # noqa: E402
    attribution_reconciliation,
    build_dacs,
    build_order_attribution,
)
from assets.marts.dac_contribution.tables import ensure_tables  # noqa: E402
from assets.marts.dac_contribution.tree import build_forest, build_referral_tree, build_tree_stats  # noqa: E402
from assets.marts.dac_contribution.weekly import (  # noqa: E402
    build_alerts,
    build_concentration_weekly,
    build_contribution_weekly,
)
from xiaoshuju.warehouse import DUCKDB_CONFIG, apply_schema  # noqa: E402

TZ = "Asia/Shanghai"
START = datetime(2024, 11, 25)  # naive UTC (numpy datetime64 has no zone)
SCALES = {"S": 5_000, "M": 100_000, "L": 1_000_000}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthesize(conn: duckdb.DuckDBPyConnection, n: int, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    days = 364
    ids = np.array([f"m_{i:016x}" for i in range(n)], dtype=object)
    join_s = np.sort(rng.uniform(0, days * 86400, n))
    join_at = np.array(START, dtype="datetime64[us]") + (join_s * 1e6).astype("timedelta64[us]")
    is_dac = rng.random(n) < 0.01
    dac_idx = np.flatnonzero(is_dac)
    # referrals: 60% of members referred by an earlier member (half of them by a 大C)
    referred = np.flatnonzero(rng.random(n) < 0.6)
    referred = referred[referred > 0]
    by_dac = rng.random(len(referred)) < 0.5
    earlier_dac = np.searchsorted(dac_idx, referred) - 1
    ref_by = np.where(
        by_dac & (earlier_dac >= 0),
        dac_idx[np.maximum(earlier_dac, 0)],
        (rng.random(len(referred)) * referred).astype(np.int64),
    )
    # groups: each 大C owns 1-2 groups; members join the group of their referrer's nearest 大C or a random one
    owners = np.concatenate([dac_idx, dac_idx[rng.random(len(dac_idx)) < 0.5]])
    g = len(owners)
    gid = np.array([f"g_{i:016x}" for i in range(g)], dtype=object)
    member_group = rng.integers(0, g, n)
    leave = rng.random(n) < 0.15
    leave_at = join_at + (rng.uniform(1, 120, n) * 86400e6).astype("timedelta64[us]")
    # orders: ~4 per member, after joining
    k = rng.poisson(4, n)
    buyer = np.repeat(np.arange(n), k)
    paid = join_at[buyer] + (rng.exponential(60, len(buyer)) * 86400e6).astype("timedelta64[us]")
    keep = paid < np.array(START + timedelta(days=days), dtype="datetime64[us]")
    buyer, paid = buyer[keep], paid[keep]
    no = len(buyer)
    seller = np.where(rng.random(no) < 0.4, owners[member_group[buyer]], -1)
    amount = np.round(rng.gamma(2.0, 45.0, no), 2)
    # messages: ~10 per member, a third of them by 大C
    nm = 10 * n
    sender = np.where(rng.random(nm) < 0.3, owners[rng.integers(0, g, nm)], rng.integers(0, n, nm))
    sent = join_at[sender] + (rng.uniform(0, 90, nm) * 86400e6).astype("timedelta64[us]")

    def put(table: str, cols: dict) -> None:
        conn.register("_bench", pa.table(cols))
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _bench")
        conn.unregister("_bench")

    put("staging.members", {"member_id": ids, "first_seen_at": join_at})
    put(
        "staging.groups",
        {
            "group_id": gid,
            "source": np.full(g, "wechat", dtype=object),
            "owner_member_id": ids[owners],
            "created_at": join_at[owners],
        },
    )
    gm_member = np.concatenate([np.arange(n), np.flatnonzero(leave)])
    put(
        "staging.group_memberships",
        {
            "group_id": gid[member_group[gm_member]],
            "member_id": ids[gm_member],
            "event": np.array(["join"] * n + ["leave"] * int(leave.sum()), dtype=object),
            "event_at": np.concatenate([join_at, leave_at[leave]]),
            "source_format": np.full(len(gm_member), "bench", dtype=object),
        },
    )
    put(
        "staging.referrals",
        {
            "referrer_member_id": ids[ref_by],
            "referee_member_id": ids[referred],
            "referred_at": join_at[referred],
            "channel": np.full(len(referred), "invite_record", dtype=object),
            "source_format": np.full(len(referred), "bench", dtype=object),
        },
    )
    put(
        "staging.orders",
        {
            "order_id": np.array([f"o{i}" for i in range(no)], dtype=object),
            "source": np.full(no, "canonical", dtype=object),
            "source_order_no": np.array([str(i) for i in range(no)], dtype=object),
            "member_id": ids[buyer],
            "status": np.full(no, "paid", dtype=object),
            "is_paid": np.ones(no, dtype=bool),
            "created_at": paid,
            "paid_at": paid,
            "paid_amount": amount,
            "net_amount": amount,
            "seller_member_id": np.where(seller >= 0, ids[np.maximum(seller, 0)], None),
            "source_file_sha256": np.full(no, "bench", dtype=object),
        },
    )
    put(
        "staging.messages",
        {
            "message_id": np.array([f"x{i}" for i in range(nm)], dtype=object),
            "group_id": gid[member_group[sender]],
            "sender_member_id": ids[sender],
            "sent_at": sent,
            "kind": np.full(nm, "text", dtype=object),
            "source_format": np.full(nm, "bench", dtype=object),
        },
    )
    conn.execute("""CREATE TABLE IF NOT EXISTS marts.member_lifetime (member_id VARCHAR, role_level VARCHAR,
                    l4_at DATE, historic_clv DECIMAL(18,2), predicted_clv_12m DECIMAL(18,2))""")
    l4 = dac_idx[rng.random(len(dac_idx)) < 0.7]
    put(
        "marts.member_lifetime",
        {
            "member_id": ids[l4],
            "role_level": np.full(len(l4), "L4", dtype=object),
            "l4_at": join_at[l4].astype("datetime64[D]"),
        },
    )
    return {"members": n, "orders": no, "messages": nm, "referrals": len(referred), "groups": g}


def run_stage(conn: duckdb.DuckDBPyConnection, weeks: int | None) -> list[tuple[str, float]]:
    ensure_tables(conn)
    lo_hi = conn.execute(
        "SELECT date_trunc('week', timezone(?, min(paid_at)))::DATE, date_trunc('week', timezone(?, max(paid_at)))::DATE + 7 "
        "FROM staging.orders WHERE is_paid",
        [TZ, TZ],
    ).fetchone()
    lo, hi = lo_hi
    if weeks:
        lo = max(lo, hi - timedelta(weeks=weeks))
    steps = [
        ("dacs", lambda: build_dacs(conn, TZ)),
        ("order_attribution", lambda: build_order_attribution(conn, TZ, 0)),
        ("reconciliation", lambda: attribution_reconciliation(conn)),
        ("referral_tree", lambda: build_referral_tree(conn, TZ)),
        ("referral_tree_stats", lambda: build_tree_stats(conn, TZ, 28)),
        (
            f"dac_contribution_weekly ({(hi - lo).days // 7} weeks)",
            lambda: build_contribution_weekly(conn, lo, hi, TZ),
        ),
        ("dac_concentration_weekly", lambda: build_concentration_weekly(conn, lo, hi)),
        ("dac_alerts", lambda: build_alerts(conn, lo, hi, TZ, 7, 28)),
    ]
    out = []
    for name, fn in steps:
        t0 = time.perf_counter()
        conn.execute("BEGIN TRANSACTION")
        fn()
        conn.execute("COMMIT")
        out.append((name, time.perf_counter() - t0))
        print(f"  {name:<44} {out[-1][1]:7.2f} s   peak RSS {rss_mb():7.0f} MB", flush=True)
    rec = attribution_reconciliation(conn)
    print("  reconciles:", all(r["ok"] for r in rec))
    return out


def bench_chain(n: int) -> None:
    import polars as pl

    from assets.marts.dac_contribution.tree import structural_virality

    ids = [f"m{i:08d}" for i in range(n)]
    edges = pl.DataFrame(
        {"member_id": ids[1:], "referrer_id": ids[:-1], "referred_at": [datetime(2024, 1, 1)] * (n - 1)}
    )
    t0 = time.perf_counter()
    forest = build_forest(edges)
    t1 = time.perf_counter()
    sv = structural_virality(forest)
    t2 = time.perf_counter()
    print(
        f"chain of {n:,}: forest {t1 - t0:.2f} s, structural virality {t2 - t1:.2f} s "
        f"(= {sv[0]:.1f}, expected {(n + 1) / 3:.1f}); peak RSS {rss_mb():.0f} MB"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), default="M")
    ap.add_argument("--warehouse", help="run on a copy of this existing warehouse instead of synthetic data")
    ap.add_argument("--weeks", type=int, default=None, help="only the last N weeks for the weekly tables")
    ap.add_argument("--chain", type=int, default=0, help="time tree metrics on one chain of this many nodes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save", help="only write the synthetic staging to this DuckDB file (for profiling)")
    args = ap.parse_args()
    if args.chain:
        bench_chain(args.chain)
        return 0
    if args.save:
        with duckdb.connect(args.save, config=DUCKDB_CONFIG) as conn:
            apply_schema(conn)
            print(synthesize(conn, SCALES[args.scale]))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench_dac_"))
    try:
        path = tmp / "warehouse.duckdb"
        if args.warehouse:
            shutil.copyfile(args.warehouse, path)
        conn = duckdb.connect(str(path), config=DUCKDB_CONFIG)
        conn.execute(f"SET threads = {int(args.threads)}")
        apply_schema(conn)
        if not args.warehouse:
            t0 = time.perf_counter()
            info = synthesize(conn, SCALES[args.scale])
            print(f"synthetic {args.scale}: {info} in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        run_stage(conn, args.weeks)
        total = time.perf_counter() - t0
        print(f"TOTAL dac_contribution stage: {total:.1f} s; peak RSS {rss_mb():.0f} MB")
        conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
