"""Bench of the group vitality stage: full-history build of marts.group_vitality_weekly (+ brand weekly, alerts,
survival) and a one-week partition rebuild, on a synthetic warehouse generated in DuckDB.

Targets (issue 7): M (≈ 1,000 groups, 5M messages, 52 weeks) full history ≤ 20 s; L (≈ 10,000 groups, 50M messages,
104 weeks) aim ≤ 3 min and ≤ 4 GiB peak RSS. Usage::

    python bench/bench_group_vitality.py --scale M
    python bench/bench_group_vitality.py --scale L [--db /tmp/gv_L.duckdb --keep]
    python bench/bench_group_vitality.py --truth /tmp/gv_truth_M --scale M [--seed 7]  # acceptance vs truth

``--truth HOME`` simulates the scale into HOME (seed ``--seed``, default 7, no defects) unless HOME already holds a
simulation, ingests it (landing + staging) unless HOME's warehouse already has staging.messages, builds the
group-based order attribution, builds this mart and compares with the simulator's ground truth: zombie precision and
recall (against all truth zombies and against the comparable ones — see ``evaluate_truth``), share of zombie dates
within 7 days, Spearman(vitality_score, latent vitality). A HOME is reused as it is: after a change to the simulator
or to ingestion, pass a new HOME (landing moves the inbox away, so an old HOME cannot be re-ingested).

Generation and build run in separate processes so the build's peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCALES = {  # groups, members per group, messages, weeks, orders
    "S": (100, 50, 200_000, 26, 20_000),
    "M": (1_000, 100, 5_000_000, 52, 500_000),
    "L": (10_000, 100, 50_000_000, 104, 5_000_000),
}
END = "2026-11-23 00:00:00+08"  # Monday after the last week

GENERATE = """
CREATE OR REPLACE TABLE staging.groups AS
SELECT 'g_' || lpad(CAST(g AS VARCHAR), 8, '0') AS group_id, 'wechat' AS source, NULL::VARCHAR AS group_name,
       'm_own' || CAST(g AS VARCHAR) AS owner_member_id,
       TIMESTAMPTZ '{end}' - INTERVAL ({weeks} * 7) DAY
           + to_seconds(CAST(hash(g, 1) % CAST({weeks} * 7 * 86400 * 0.6 AS UBIGINT) AS BIGINT)) AS created_at,
       NULL::TIMESTAMPTZ AS first_event_at, NULL::TIMESTAMPTZ AS last_event_at
FROM range({groups}) t(g);
UPDATE staging.groups SET first_event_at = created_at;

-- a third of the groups die: after zombie_at only the owner posts (and nobody buys)
CREATE OR REPLACE TEMP TABLE bench_life AS
SELECT CAST(substr(group_id, 3) AS BIGINT) AS g, group_id, owner_member_id, created_at,
       CASE WHEN hash(group_id, 2) % 3 = 0
            THEN created_at + to_seconds(CAST(86400 * (15 + hash(group_id, 3) % 300) AS BIGINT)) END AS zombie_at,
       epoch(TIMESTAMPTZ '{end}' - created_at) AS life_s
FROM staging.groups;

CREATE OR REPLACE TABLE staging.members AS
SELECT 'm_' || CAST(i AS VARCHAR) AS member_id, NULL::VARCHAR AS display_name_masked, NULL::VARCHAR AS phone_masked,
       i % 997 = 0 AS is_staff, NULL::TIMESTAMPTZ AS first_seen_at, NULL::TIMESTAMPTZ AS customer_since,
       NULL::VARCHAR[] AS sources
FROM range({groups} * {per_group}) t(i);

CREATE OR REPLACE TABLE staging.group_memberships AS
SELECT l.group_id, 'm_' || CAST(i AS VARCHAR) AS member_id, 'join' AS event,
       l.created_at + to_seconds(CAST(hash(i, 4) % CAST(l.life_s * 0.5 AS UBIGINT) AS BIGINT)) AS event_at,
       'invite' AS scene, NULL::VARCHAR AS inviter_member_id, 'bench' AS source_format,
       NULL::VARCHAR AS source_file_sha256, NULL::BIGINT AS source_line
FROM range({groups} * {per_group}) t(i) JOIN bench_life l ON l.g = i % {groups};
INSERT INTO staging.group_memberships
SELECT group_id, member_id, 'leave', event_at + INTERVAL 20 DAY, 'left', NULL, 'bench', NULL, NULL
FROM staging.group_memberships
WHERE hash(member_id, 5) % 10 = 0 AND event_at + INTERVAL 20 DAY < TIMESTAMPTZ '{end}';

CREATE OR REPLACE TABLE staging.messages AS
WITH raw AS (
    SELECT i, hash(i, 6) % {groups} AS g, (hash(i, 7) % 1000000) / 1000000.0 AS u, hash(i, 8) % 100 AS k
    FROM range({messages}) t(i)
), timed AS (
    SELECT r.*, l.group_id, l.owner_member_id, l.zombie_at,
           l.created_at + to_seconds(CAST(r.u * r.u * l.life_s AS BIGINT)) AS sent_at  -- more chat early in life
    FROM raw r JOIN bench_life l ON l.g = r.g
)
SELECT 'wx:' || CAST(i AS VARCHAR) AS message_id, group_id,
       CASE WHEN k < 3 THEN NULL
            WHEN k < 25 OR sent_at >= zombie_at THEN owner_member_id
            ELSE 'm_' || CAST(g + {groups} * (hash(i, 9) % {per_group}) AS VARCHAR) END AS sender_member_id,
       sent_at,
       CASE WHEN k < 3 THEN 'system' WHEN k < 4 THEN 'recall' WHEN k < 20 THEN 'image' ELSE 'text' END AS kind,
       CAST(k AS INTEGER) AS length,
       k >= 90 AS is_question,
       k >= 3 AND (k < 25 OR sent_at >= zombie_at) AS is_owner,
       false AS is_staff,
       hash(i, 10) % 50 = 0 AS is_recalled,
       NULL::TIMESTAMPTZ AS first_response_at, NULL::DOUBLE AS first_response_seconds,
       'bench' AS source_format, NULL::VARCHAR AS source_file_sha256
FROM timed;

CREATE SCHEMA IF NOT EXISTS marts;
CREATE OR REPLACE TABLE marts.order_attribution AS
WITH raw AS (SELECT i, hash(i, 11) % ({groups} * {per_group}) AS m FROM range({orders}) t(i))
SELECT 'o' || CAST(i AS VARCHAR) AS order_id, 'm_' || CAST(m AS VARCHAR) AS member_id,
       l.created_at + to_seconds(CAST((hash(i, 12) % 1000000) / 1000000.0
                                      * least(epoch(l.zombie_at - l.created_at), l.life_s) AS BIGINT)) AS paid_at,
       NULL::DATE AS week_start, CAST((hash(i, 13) % 30000) / 100.0 AS DECIMAL(18,2)) AS net_amount,
       l.group_id, l.owner_member_id AS group_owner_dac_id, NULL::VARCHAR AS first_touch_dac_id,
       NULL::VARCHAR AS last_touch_dac_id
FROM raw JOIN bench_life l ON l.g = raw.m % {groups};
"""

BUILD = r"""
import json, resource, time, datetime as dt, duckdb
from assets.marts.group_vitality.build import build_weekly, build_brand_weekly, build_alerts, build_survival
from xiaoshuju.settings import Thresholds
conn = duckdb.connect({db!r})
out = {{}}
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t = time.perf_counter(); c = cpu(); r = build_weekly(conn, Thresholds())
out['weekly_full_s'] = time.perf_counter() - t; out['weekly_full_cpu_s'] = cpu() - c
out['rows'] = r.rows_inserted
t = time.perf_counter(); build_brand_weekly(conn); build_alerts(conn); build_survival(conn)
out['brand_alerts_survival_s'] = time.perf_counter() - t
last = r.week_to - dt.timedelta(days=7)
t = time.perf_counter(); build_weekly(conn, Thresholds(), week_from=last, week_to=r.week_to)
out['one_week_rebuild_s'] = time.perf_counter() - t
out['states'] = dict(conn.execute("SELECT lifecycle_state, count(*) FROM marts.group_vitality_weekly "
                                  "WHERE week_start = ? GROUP BY 1", [last]).fetchall())
out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _child(code: str, *argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit("bench step failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def generate(db: str, scale: str) -> float:
    groups, per_group, messages, weeks, orders = SCALES[scale]
    sql = GENERATE.format(groups=groups, per_group=per_group, messages=messages, weeks=weeks, orders=orders, end=END)
    code = (
        "import duckdb, json, time\nfrom xiaoshuju.warehouse import DUCKDB_CONFIG, apply_schema\n"
        f"c = duckdb.connect({db!r}, config=DUCKDB_CONFIG); apply_schema(c); t = time.perf_counter()\n"
        f"c.execute({sql!r})\n"
        "print(json.dumps({'s': time.perf_counter() - t, 'messages': c.execute("
        "'SELECT count(*) FROM staging.messages').fetchone()[0]}))"
    )
    return _child(code)


TRUTH = r"""
import json, os, sys, time
home, scale, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.environ["XIAOSHUJU_HOME"] = home
os.environ.setdefault("XIAOSHUJU_HMAC_KEY", "bench-secret-not-for-production")
import dagster as dg, duckdb
from xiaoshuju.settings import load_settings
from xiaoshuju.simulator import simulate
from xiaoshuju.warehouse import DUCKDB_CONFIG, transaction
from pipelines.resources import build_resources
import assets.landing as landing, assets.staging as staging
from assets.marts.group_vitality.build import build_weekly, build_alerts, build_survival, build_brand_weekly
from bench.bench_group_vitality import evaluate_truth
s = load_settings(home).ensure_dirs()
out = {}
truth_file = s.ground_truth / "truth.json"
if not truth_file.exists():
    t = time.perf_counter(); simulate(scale, seed=seed, out_dir=s.inbox, truth_dir=s.ground_truth, defect_rate=0)
    out["simulate_s"] = time.perf_counter() - t
had = json.loads(truth_file.read_text(encoding="utf-8"))
if (had.get("scale"), had.get("seed")) != (scale, seed):
    raise SystemExit(f"{home} holds scale {had.get('scale')} seed {had.get('seed')}, not {scale} seed {seed}: "
                     "use another --truth home")
out["seed"] = seed
conn = duckdb.connect(str(s.warehouse), config=DUCKDB_CONFIG)
has = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema='staging' "
                   "AND table_name='messages'").fetchone()[0] and conn.execute(
                   "SELECT count(*) FROM staging.messages").fetchone()[0]
conn.close()
if not has:
    t = time.perf_counter()
    res = build_resources(s)
    dg.materialize([*landing.ASSETS, *staging.ASSETS], resources=res, raise_on_error=True)
    out["ingest_s"] = time.perf_counter() - t
conn = duckdb.connect(str(s.warehouse))
from assets.marts.dac_contribution import tables as dac_tables, attribution
dac_tables.ensure_tables(conn)
with transaction(conn):
    attribution.build_dacs(conn, s.timezone)
    attribution.build_order_attribution(conn, s.timezone)
t = time.perf_counter()
build_weekly(conn, s.thresholds, s.timezone); build_brand_weekly(conn, s.timezone); build_alerts(conn, tz=s.timezone)
build_survival(conn, s.timezone)
out["mart_s"] = time.perf_counter() - t
out.update(evaluate_truth(conn, s.ground_truth, s.timezone, s.thresholds.zombie_silence_days))
print(json.dumps(out, default=str))
"""


def evaluate_truth(conn, truth_dir, tz: str = "Asia/Shanghai", silence_days: int = 21) -> dict:
    """Compare the built mart with the simulator's ground truth (groups.parquet, group_vitality_weekly.parquet).

    Zombie detection is scored twice, and both are printed:

    * against **all** truth zombies (``precision``, ``recall``);
    * recall against the truth zombies an observable ``silence_days`` rule can detect at all
      (``recall_comparable``): a truth zombie is left out of that denominator — and counted in its own field — if
      it died less than ``silence_days`` before the data end (``excluded_died_lt_silence``: its members have not
      been silent long enough yet), or if no member activity (a member's message or a member's attributed order)
      appears in the exports before its zombie date (``excluded_never_active``: its members never spoke or bought,
      so nothing observable tells its silence from a live group's — see ``never_active_silent_groups``).
      Detected groups are still scored against all truth zombies for precision.
    """
    import pandas as pd
    from scipy.stats import spearmanr

    truth_dir = Path(truth_dir)
    conn.execute("CREATE OR REPLACE TEMP TABLE truth_groups AS SELECT *, 'g_' || substr(md5(group_key), 1, 16) "
                 "AS group_id FROM read_parquet(?)", [str(truth_dir / "groups.parquet")])
    conn.execute("CREATE OR REPLACE TEMP TABLE truth_vitality AS SELECT *, 'g_' || substr(md5(group_key), 1, 16) "
                 "AS group_id FROM read_parquet(?)", [str(truth_dir / "group_vitality_weekly.parquet")])
    has_orders = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' "
                              "AND table_name = 'order_attribution'").fetchone()[0]
    orders_sql = """
        UNION ALL
        SELECT o.group_id, min(o.paid_at) FROM marts.order_attribution o JOIN staging.groups g USING (group_id)
        LEFT JOIN staging.members mb ON mb.member_id = o.member_id
        WHERE o.paid_at IS NOT NULL AND o.member_id IS DISTINCT FROM g.owner_member_id
          AND NOT coalesce(mb.is_staff, false)
        GROUP BY ALL""" if has_orders else ""
    # first member activity per group straight from staging (independent of the mart's SQL): speech by someone
    # who is neither the owner nor staff, or an attributed order by such a member
    conn.execute(f"""
        CREATE OR REPLACE TEMP TABLE eval_first_member_act AS
        SELECT group_id, min(first_at) AS first_at FROM (
            SELECT m.group_id, min(m.sent_at) AS first_at FROM staging.messages m JOIN staging.groups g USING (group_id)
            LEFT JOIN staging.members mb ON mb.member_id = m.sender_member_id
            WHERE m.kind NOT IN ('system', 'recall') AND NOT m.is_recalled AND m.sender_member_id IS NOT NULL
              AND NOT m.is_owner AND NOT m.is_staff AND NOT coalesce(mb.is_staff, false)
              AND m.sender_member_id IS DISTINCT FROM g.owner_member_id
            GROUP BY ALL {orders_sql}) GROUP BY group_id""")
    g = conn.execute("""
        WITH last AS (
            SELECT group_id, arg_max(is_zombie, week_start) AS detected, arg_max(zombie_since, week_start) AS since,
                   arg_max(silence_days, week_start) AS silence, arg_max(group_age_days, week_start) AS age,
                   max(week_start) AS last_week
            FROM marts.group_vitality_weekly GROUP BY group_id),
        as_of AS (SELECT max(sent_at) AS as_of FROM staging.messages)
        SELECT t.group_id, t.is_zombie AS truth, CAST(timezone(?, t.zombie_at) AS DATE) AS truth_date,
               coalesce(t.is_zombie AND t.zombie_at > a.as_of - to_days(CAST(? AS INTEGER)), false) AS died_late,
               f.first_at IS NULL OR (t.is_zombie AND f.first_at >= t.zombie_at) AS never_active,
               coalesce(l.detected, false) AS detected, l.since, l.silence, l.age,
               l.group_id IS NOT NULL AS in_mart
        FROM truth_groups t LEFT JOIN last l USING (group_id) LEFT JOIN eval_first_member_act f USING (group_id),
             as_of a""", [tz, silence_days]).df()
    g["comparable"] = g.truth & ~g.died_late & ~g.never_active

    def pr(truth):
        tp, fp = int((truth & g.detected).sum()), int((~truth & g.detected).sum())
        fn = int((truth & ~g.detected).sum())
        return (tp / (tp + fp) if tp + fp else None), (tp / (tp + fn) if tp + fn else None)

    precision, recall = pr(g.truth)
    recall_comparable = (int((g.comparable & g.detected).sum()) / int(g.comparable.sum())
                         if g.comparable.any() else None)
    both = g[g.truth & g.detected]
    err = (pd.to_datetime(both.since) - pd.to_datetime(both.truth_date)).dt.days
    days = err.abs()
    # what flagging groups whose members never spoke or bought would do: such groups silent long enough
    na = g[g.never_active & (g.silence >= silence_days) & (g.age >= 14)]
    v = conn.execute("""
        SELECT t.vitality, m.vitality_score, m.score_4w_avg, m.week_start = CAST(date_trunc('week',
               timezone(?, m.group_created_at)) AS DATE) AS first_week
        FROM truth_vitality t
        JOIN marts.group_vitality_weekly m ON m.group_id = t.group_id AND m.week_start = t.week_start""",
                     [tz]).df()
    later = v[~v.first_week]

    def rho(x, y):
        return float(spearmanr(x, y).statistic) if len(x) > 2 else None

    return {
        "groups_truth": len(g), "groups_in_mart": int(g.in_mart.sum()),
        "zombies_truth": int(g.truth.sum()), "zombies_detected": int(g.detected.sum()),
        "true_positives": int((g.truth & g.detected).sum()), "false_positives": int((~g.truth & g.detected).sum()),
        "precision": precision, "recall": recall,
        "excluded_died_lt_silence": int((g.truth & g.died_late).sum()),
        "excluded_never_active": int((g.truth & g.never_active & ~g.died_late).sum()),
        "zombies_comparable": int(g.comparable.sum()),
        "recall_comparable": recall_comparable,
        "missed_comparable": sorted(g[g.comparable & ~g.detected].group_id),
        "never_active_silent_groups": {"truth_zombie": int(na.truth.sum()), "not_zombie": int((~na.truth).sum())},
        "date_within_7d": float((days <= 7).mean()) if len(days) else None,
        "date_median_abs_days": float(days.median()) if len(days) else None,
        "date_error_days_quartiles": [float(x) for x in err.quantile([0.1, 0.25, 0.5, 0.75, 0.9])] if len(err)
        else None,
        "group_weeks_compared": len(v),
        "spearman_score": rho(v.vitality, v.vitality_score),
        "spearman_score_after_first_week": rho(later.vitality, later.vitality_score),
        "spearman_score_4w": rho(v.vitality, v.score_4w_avg),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="M", choices=sorted(SCALES))
    ap.add_argument("--db", help="warehouse file (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="reuse --db if it exists, keep it afterwards")
    ap.add_argument("--truth", metavar="HOME", help="simulate + ingest into HOME and compare with ground truth")
    ap.add_argument("--seed", type=int, default=7, help="simulator seed for --truth (default 7)")
    args = ap.parse_args()
    if args.truth:
        res = _child(TRUTH, args.truth, args.scale, str(args.seed))
        print(json.dumps(res, indent=1))
        return
    tmp = None
    db = args.db
    if not db:
        tmp = tempfile.TemporaryDirectory()
        db = str(Path(tmp.name) / f"gv_{args.scale}.duckdb")
    if not (args.keep and Path(db).exists()):
        Path(db).unlink(missing_ok=True)
        gen = generate(db, args.scale)
        print(f"generated {gen['messages']:,} messages in {gen['s']:.1f} s")
    res = _child(BUILD.format(db=db))
    groups, _, messages, weeks, _ = SCALES[args.scale]
    print(f"| scale | groups | messages | weeks | rows | full build s (CPU s) | brand+alerts+survival s "
          f"| one-week rebuild s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n| {args.scale} | {groups:,} | "
          f"{messages:,} | {weeks} | {res['rows']:,} | {res['weekly_full_s']:.1f} ({res['weekly_full_cpu_s']:.0f}) | "
          f"{res['brand_alerts_survival_s']:.1f} | {res['one_week_rebuild_s']:.1f} | {res['peak_rss_mb']:.0f} |")
    print("last-week lifecycle states:", res["states"])
    if tmp and not args.keep:
        tmp.cleanup()


if __name__ == "__main__":
    main()
