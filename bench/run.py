"""The benchmark harness — one command:

    .venv/bin/python bench/run.py --scale S [--seed 1] [--home /tmp/bench_S] [--out bench/results]

1. generates a simulated brand at the scale (timed, peak RSS of the simulator process);
2. measures the **floor**: DuckDB loading every raw export once into in-memory tables (`CREATE TABLE AS SELECT * FROM
   read_csv/read_json(...)`), in a separate process, on the same files;
3. runs the whole Dagster pipeline (run start → serving snapshot) in one process, as `xiaoshuju run` does, and splits it
   into stages from Dagster's own step events (wall time per asset step) with peak RSS per stage from a sampler thread;
4. if the simulator supports it, drops one more weekly export batch and times the incremental run;
5. prints a markdown table (and writes it to --out).

Targets (issue 3): pipeline ≤ 3× floor at L, ≤ 4× at M; a weekly increment ≤ 15% of a full rebuild.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def _child(code: str, home: Path) -> dict:
    """Run python code in a fresh process; it prints one JSON line last. Adds the child's peak RSS."""
    env = {**os.environ, "XIAOSHUJU_HOME": str(home), "GX_ANALYTICS_ENABLED": "false"}
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"bench stage failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.setdefault("wall_s", wall)
    return out


_RSS_TAIL = "import resource,json; print(json.dumps({{**_r, 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}}))"

SIMULATE = """
import time
from xiaoshuju.settings import load_settings
from xiaoshuju.simulator import simulate
s = load_settings().ensure_dirs()
t0 = time.perf_counter()
simulate(scale={scale!r}, seed={seed}, out_dir=s.inbox, truth_dir=s.ground_truth{through})
_r = {{'wall_s': time.perf_counter() - t0}}
""" + _RSS_TAIL

FLOOR = """
import time, duckdb
from pathlib import Path
from data_contracts.detect import detect
from assets.landing.register import inbox_files
from xiaoshuju.settings import load_settings
s = load_settings()
files = inbox_files(s.inbox)
con = duckdb.connect()
t0 = time.perf_counter()
n = 0
for i, p in enumerate(files):
    d = detect(p)
    if d.format in ('unknown', 'empty', 'binary', 'unreadable') or d.encoding == 'xlsx':
        continue
    if d.format in ('wecom_archive', 'wecom_group_detail'):
        src = "read_json(?, format='auto', ignore_errors=true)"
    else:
        enc = 'utf-8' if d.encoding in ('utf-8', 'utf-8-sig') else 'GB18030'
        src = "read_csv(?, all_varchar=true, header=true, strict_mode=false, ignore_errors=true, encoding='" + enc + "')"
    try:
        con.execute(f"CREATE OR REPLACE TABLE t{{i}} AS SELECT * FROM " + src, [str(p)])
        n += con.execute(f"SELECT count(*) FROM t{{i}}").fetchone()[0]
    except duckdb.Error as exc:
        print('floor skipped', p, exc)
_r = {{'wall_s': time.perf_counter() - t0, 'files': len(files), 'rows': n}}
""" + _RSS_TAIL

PIPELINE = """
import json, os, threading, time
from xiaoshuju.settings import load_settings
from pipelines.runner import materialize_all
import dagster as dg
s = load_settings().ensure_dirs()
PAGE = os.sysconf('SC_PAGE_SIZE')
def rss():
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * PAGE
samples = []
stop = threading.Event()
def sample():
    while not stop.is_set():
        samples.append((time.time(), rss()))
        time.sleep(0.1)
th = threading.Thread(target=sample, daemon=True); th.start()
t0 = time.perf_counter()
out = materialize_all(s)
wall = time.perf_counter() - t0
stop.set(); th.join()
inst = dg.DagsterInstance.get()
steps = {{}}
for run_id in out.get('run_ids') or [out['run_id']]:
    for rec in inst.all_logs(run_id):
        ev = rec.dagster_event
        if ev is None or ev.step_key is None:
            continue
        d = steps.setdefault(ev.step_key, {{}})
        if ev.event_type_value == 'STEP_START':
            d['start'] = rec.timestamp
        elif ev.event_type_value in ('STEP_SUCCESS', 'STEP_FAILURE'):
            d['end'] = rec.timestamp
from pipelines.definitions import defs
graph = defs.resolve_asset_graph()
group_of = {{}}
for k in graph.materializable_asset_keys:
    group_of[defs.resolve_assets_def(k).node_def.name] = graph.get(k).group_name
for k, d in steps.items():
    rss = [r for t, r in samples if d.get('start', 0) <= t <= d.get('end', 0)]
    d['peak_rss_mb'] = max(rss) / 2**20 if rss else None
    d['group'] = group_of.get(k.split('[')[0], 'other')
_r = {{'wall_s': wall, 'success': out['success'], 'steps': steps}}
""" + _RSS_TAIL


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="S", choices=["S", "M", "L"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--home", type=Path, default=None, help="XIAOSHUJU_HOME for the run (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--keep", action="store_true", help="keep the temp home")
    ap.add_argument("--no-increment", action="store_true")
    args = ap.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix=f"xsj_bench_{args.scale}_"))
    if home.exists() and args.home:
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)

    rows: list[tuple[str, float, float | None, str]] = []
    increment = not args.no_increment and _supports_through_week()
    # the simulated calendar ends Sunday 2026-11-22: hold back its last week (Monday 2026-11-16) for the increment
    through = ", through_week='2026-11-09'" if increment else ""
    sim = _child(SIMULATE.format(scale=args.scale, seed=args.seed, through=through), home)
    rows.append(("simulate" + (" (all but the last week)" if increment else ""), sim["wall_s"], sim["peak_rss_mb"], ""))
    floor = _child(FLOOR.format(), home)
    rows.append(("floor: DuckDB loads every raw export once", floor["wall_s"], floor["peak_rss_mb"],
                 f"{floor['files']} files, {floor['rows']:,} rows"))
    pipe = _child(PIPELINE.format(), home)
    by_stage: dict[str, list[float]] = {}
    for d in pipe["steps"].values():
        if "start" in d and "end" in d:
            st = by_stage.setdefault(d.get("group") or "other", [0.0, 0.0])
            st[0] += d["end"] - d["start"]
            st[1] = max(st[1], d.get("peak_rss_mb") or 0.0)
    for stage in ("landing", "staging", "marts", "serving", "reports", "other"):
        if stage in by_stage:
            rows.append((f"  stage: {stage}", by_stage[stage][0], by_stage[stage][1], "sum of its asset steps"))
    ratio = pipe["wall_s"] / floor["wall_s"] if floor["wall_s"] else float("nan")
    steps_total = sum(v[0] for v in by_stage.values())
    rows.append(("  Dagster overhead (runs, events, checks)", pipe["wall_s"] - steps_total, None, "pipeline minus its steps"))
    rows.append(("pipeline: run start → serving snapshot", pipe["wall_s"], pipe["peak_rss_mb"],
                 f"{ratio:.1f}× floor; {'ok' if pipe['success'] else 'FAILED'}"))
    if increment:
        inc_sim = _child(SIMULATE.format(scale=args.scale, seed=args.seed, through=", from_week='2026-11-16'"), home)
        rows.append(("simulate (last week's batch)", inc_sim["wall_s"], inc_sim["peak_rss_mb"], ""))
        inc = _child(PIPELINE.format(), home)
        rows.append(("increment: pipeline on one more week", inc["wall_s"], inc["peak_rss_mb"],
                     f"{inc['wall_s'] / pipe['wall_s']:.0%} of the full run"))

    table = [f"### bench scale {args.scale} seed {args.seed} ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)",
             "", "| stage | wall s | peak RSS MiB | note |", "|---|---:|---:|---|"]
    for name, wall, rss, note in rows:
        table.append(f"| {name} | {wall:.1f} | {'' if rss is None else f'{rss:,.0f}'} | {note} |")
    text = "\n".join(table)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"bench_{args.scale}.md").write_text(text + "\n", encoding="utf-8")
    if not args.home and not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0 if pipe["success"] else 1


def _supports_through_week() -> bool:
    try:
        import inspect

        from xiaoshuju.simulator import simulate

        return "through_week" in inspect.signature(simulate).parameters
    except Exception:  # noqa: BLE001 - simulator not installed yet
        return False


if __name__ == "__main__":
    sys.exit(main())
