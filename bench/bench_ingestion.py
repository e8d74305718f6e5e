"""Bench ingestion (landing + staging) against the floor: DuckDB loading every raw export once.

    python bench/bench_ingestion.py --scale S                 # simulate S (seed 1) into a temp home, then measure
    python bench/bench_ingestion.py --scale M --keep DIR      # simulate once into DIR (re-used on the next run)
    python bench/bench_ingestion.py --inbox DIR               # measure an existing inbox (copied, never modified)
    XSJ_BENCH_PROFILE=1 python bench/bench_ingestion.py ...   # also list the slowest staging build statements
    python bench/bench_ingestion.py --scale L --keep DIR --floor file --consume   # L: no in-memory floor, no copy

Each measurement runs in a fresh subprocess (so peak RSS is that step's own). Prints markdown: wall times, peak
RSS, the floor, the ratio staging / floor (target ≤ 2), and — when the simulator's ground truth is there —
quarantine precision/recall vs injected defects and identity precision/recall on recoverable links; then the file
floor's seconds and CPU seconds per format beside the load's seconds per format.

Floor = every export read once into a DuckDB table: CSV files of one layout in one read_csv (all VARCHAR), JSON
lines with read_json, xlsx with calamine. No cleaning, typing, hashing, identity or canonical tables. Measured twice:
into an in-memory database (the target's floor) and into a DuckDB file (what persisting the load costs, as the
warehouse must, in the warehouse's file format). CPU seconds are printed beside wall times: on a shared machine they
are the steadier figure.
The file floor is taken again after the ingest (the speed of a shared machine drifts by 10–20 % within the half hour
an L run takes); the ratio is against the mean of the two, and against each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _floor(inbox: str, db: str = ":memory:") -> dict:
    import duckdb

    from data_contracts.detect import detect
    from data_contracts.readers import SourceFile, read_header, read_xlsx, transcode_to_utf8
    from xiaoshuju.warehouse import DUCKDB_CONFIG

    groups: dict[tuple, list[tuple[Path, str | None]]] = {}
    for p in sorted(Path(inbox).rglob("*")):
        if not p.is_file():
            continue
        d = detect(p)
        if d.format in ("unknown", "empty", "binary", "unreadable"):
            continue
        if d.encoding == "xlsx":
            key = ("xlsx", d.format)
        elif d.format in ("wecom_archive", "wecom_group_detail"):
            key = ("json", d.format)
        else:
            key = ("csv", d.format, tuple(read_header(p, d.encoding)))
        groups.setdefault(key, []).append((p, d.encoding))
    t0 = time.perf_counter()
    # a file floor is persisted like the warehouse: in its file format (xiaoshuju.warehouse.DUCKDB_CONFIG)
    conn = duckdb.connect(db) if db == ":memory:" else duckdb.connect(db, config=DUCKDB_CONFIG)
    rows = 0
    by_format: dict[str, list[float]] = {}  # format -> [seconds, CPU seconds]
    for i, (key, files) in enumerate(groups.items()):
        t_fmt, cpu_fmt = time.perf_counter(), _cpu()
        if key[0] == "csv":
            paths, tmps = [], []
            for p, enc in files:
                if (enc or "").startswith("gb"):
                    t = transcode_to_utf8(p, "gb18030")
                    tmps.append(t)
                    paths.append(str(t))
                else:
                    paths.append(str(p))
            conn.execute(
                f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, all_varchar=true, header=true, "
                "ignore_errors=true, null_padding=true)",
                [paths],
            )
            for t in tmps:
                t.unlink()
        elif key[0] == "json":
            conn.execute(
                f"CREATE TABLE t{i} AS SELECT * FROM read_json(?, format='newline_delimited', "
                "ignore_errors=true, union_by_name=true)",
                [[str(p) for p, _ in files]],
            )
        else:
            import polars as pl

            frames = [read_xlsx(SourceFile("x", p.name, p, "xlsx")).frame for p, _ in files]
            df = pl.concat(frames, how="diagonal_relaxed")
            conn.register("x", df)
            conn.execute(f"CREATE TABLE t{i} AS SELECT * FROM x")
            conn.unregister("x")
        rows += conn.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
        spent = by_format.setdefault(key[1] if key[0] != "xlsx" else f"{key[1]} (xlsx)", [0.0, 0.0])
        spent[0] += time.perf_counter() - t_fmt
        spent[1] += _cpu() - cpu_fmt
    conn.execute("CHECKPOINT")
    conn.close()
    return {"seconds": time.perf_counter() - t0, "rows": rows, "groups": len(groups), "by_format": by_format}


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _ingest(home: str) -> dict:
    from assets.landing.register import register_inbox
    from assets.staging.build import rebuild_staging
    from assets.staging.evaluate import identity_scores, quarantine_scores, reconciliation_summary
    from assets.staging.load import load_pending
    from xiaoshuju.settings import load_settings
    from xiaoshuju.warehouse import connect

    s = load_settings(home).ensure_dirs()
    out = {}
    with connect(s.warehouse) as conn:
        t = time.perf_counter()
        register_inbox(conn, s.inbox, s.archive)
        out["landing"] = time.perf_counter() - t
        t = time.perf_counter()
        rep = load_pending(conn, s)
        out["load"] = time.perf_counter() - t
        t = time.perf_counter()
        if os.environ.get("XSJ_BENCH_PROFILE"):
            from assets.staging import build

            build.TIMINGS[:] = [None]
        counts = rebuild_staging(conn)
        out["build"] = time.perf_counter() - t
        if os.environ.get("XSJ_BENCH_PROFILE"):
            out["build_top"] = sorted(build.TIMINGS[1:], reverse=True)[:12]
        out["load_top"] = (
            sorted(rep.timings.items(), key=lambda kv: -kv[1])[:12] if hasattr(rep, "timings") else []
        )
        out["files"] = rep.n_files
        out["counts"] = counts
        out["rows_in"] = conn.execute("SELECT sum(rows_in) FROM ops.reconciliation").fetchone()[0]
        out["reconciliation"] = reconciliation_summary(conn)
        if (s.ground_truth / "defects.parquet").exists():
            q = quarantine_scores(conn, s.ground_truth)
            out["quarantine"] = {k: q[k] for k in ("expected", "quarantined", "precision", "recall")}
            out["identity"] = identity_scores(conn, s.ground_truth, s.hmac_key)
        t = time.perf_counter()
        from assets.staging.pipeline import run_staging

        again = run_staging(conn, s)
        out["rerun"] = {
            "seconds": time.perf_counter() - t,
            "files": again.load.n_files,
            "rebuilt": again.rebuilt,
        }
        from xiaoshuju.warehouse import storage_version

        out["warehouse"] = {"format": storage_version(conn), "mb": s.warehouse.stat().st_size / 2**20}
    return out


def _child(kind: str, arg: str) -> None:
    if kind == "floor":
        res = _floor(arg)
    elif kind == "floor_file":
        with tempfile.TemporaryDirectory(prefix="xsj_floor_") as d:
            res = _floor(arg, str(Path(d) / "floor.duckdb"))
    else:
        res = _ingest(arg)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    res["peak_rss_mb"] = ru.ru_maxrss / 1024
    # CPU seconds of all threads: robust when other work shares the machine (wall time is not)
    res["cpu_seconds"] = _cpu()
    print("RESULT " + json.dumps(res, default=str))


def _run_child(kind: str, arg: str, env: dict) -> dict:
    p = subprocess.run(
        [sys.executable, __file__, "--child", kind, arg], capture_output=True, text=True, env=env, cwd=ROOT
    )
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{kind} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="S")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inbox", help="measure this existing inbox (copied)")
    ap.add_argument("--keep", help="directory holding the simulated inbox + ground truth (created once)")
    ap.add_argument(
        "--floor",
        choices=("both", "file"),
        default="both",
        help="'file' skips the in-memory floor (at L it needs more RAM than the machine has)",
    )
    ap.add_argument(
        "--consume",
        action="store_true",
        help="move the kept inbox into the bench home instead of copying it (L: ~18 GB); it is used up",
    )
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.consume and a.inbox:
        ap.error("--consume only with a simulated inbox (--scale/--keep), never with --inbox")
    if a.child:
        _child(*a.child)
        return
    env = {**os.environ, "XIAOSHUJU_HMAC_KEY": os.environ.get("XIAOSHUJU_HMAC_KEY", "bench-secret")}
    work = Path(tempfile.mkdtemp(prefix="xsj_bench_ingest_"))
    try:
        if a.inbox:
            src_inbox, truth = Path(a.inbox), None
        else:
            src = Path(a.keep) if a.keep else work / "sim"
            src_inbox, truth = src / "inbox", src / "ground_truth"
            if not (src_inbox.exists() and any(src_inbox.iterdir())):
                from xiaoshuju.simulator import simulate

                t = time.perf_counter()
                simulate(a.scale, seed=a.seed, out_dir=src_inbox, truth_dir=truth)
                print(f"(simulated {a.scale} in {time.perf_counter() - t:.0f} s)", file=sys.stderr)
        home = work / "home"
        size = sum(p.stat().st_size for p in src_inbox.rglob("*") if p.is_file())
        if truth is not None and truth.exists():
            shutil.copytree(truth, home / "ground_truth")
        floor_file = _run_child("floor_file", str(src_inbox), env)
        floor = _run_child("floor", str(src_inbox), env) if a.floor == "both" else None
        if a.consume:  # after the floors: landing moves files out of the inbox, so the kept inbox is used up
            home.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src_inbox), str(home / "inbox"))
        else:
            shutil.copytree(src_inbox, home / "inbox")
        ing = _run_child("ingest", str(home), {**env, "XIAOSHUJU_HOME": str(home)})
        # the file floor again, right after: the machine's speed drifts over a long run (at L the two ingest
        # steps take ~15 min), so the ingest is compared with floors taken on either side of it. With --consume the
        # inbox is gone: the floor reads the archive, the same files less any duplicate the landing dropped
        floor_after = _run_child("floor_file", str(home / "archive" if a.consume else src_inbox), env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    staging_s = ing["load"] + ing["build"]
    print(f"## Ingestion bench — {a.inbox or f'scale {a.scale}, seed {a.seed}'}\n")
    print(f"{ing['files']:,} files, {size / 1e6:,.0f} MB, {ing['rows_in']:,} records in\n")
    print("| step | wall time (s) | peak RSS (MB) |\n|---|---:|---:|")
    if floor is not None:
        print(
            f"| floor: DuckDB loads every export once, in memory ({floor['groups']} scans, {floor['rows']:,} rows) | "
            f"{floor['seconds']:.1f} | {floor['peak_rss_mb']:,.0f} |"
        )
    print(
        f"| floor into a DuckDB file (the same load, persisted like the warehouse; {floor_file['rows']:,} rows) | "
        f"{floor_file['seconds']:.1f} | {floor_file['peak_rss_mb']:,.0f} |"
    )
    print(
        f"| the file floor again, after the ingest ({floor_after['rows']:,} rows) | "
        f"{floor_after['seconds']:.1f} | {floor_after['peak_rss_mb']:,.0f} |"
    )
    print(f"| landing (hash, detect, archive) | {ing['landing']:.1f} | |")
    print(f"| staging load (read, contract, quarantine, reconcile) | {ing['load']:.1f} | |")
    print(f"| staging build (identity, canonical tables) | {ing['build']:.1f} | |")
    print(f"| **staging total** | **{staging_s:.1f}** | {ing['peak_rss_mb']:,.0f} (whole ingest process) |")
    print(f"| re-run with nothing new | {ing['rerun']['seconds']:.2f} | |")
    mem = f"{staging_s / floor['seconds']:.2f} against the in-memory floor, " if floor is not None else ""
    file_floor = (floor_file["seconds"] + floor_after["seconds"]) / 2
    print(
        f"\n**ratio staging / floor: {mem}{staging_s / file_floor:.2f} against the file floor** (the mean of "
        f"before and after; {staging_s / floor_file['seconds']:.2f} / {staging_s / floor_after['seconds']:.2f} "
        f"against each) (target ≤ 2); landing + staging / file floor: {(staging_s + ing['landing']) / file_floor:.2f}"
    )
    cpu_mem = f"floor {floor['cpu_seconds']:.0f}, " if floor is not None else ""
    print(
        f"CPU seconds (all threads; steadier on a shared machine): {cpu_mem}file floor "
        f"{floor_file['cpu_seconds']:.0f} before / {floor_after['cpu_seconds']:.0f} after, whole ingest process "
        f"{ing['cpu_seconds']:.0f}\n"
    )
    rec = ing["reconciliation"]
    print(f"- reconciliation: {rec['reconciled']}/{rec['files']} files")
    if "quarantine" in ing:
        q, i = ing["quarantine"], ing["identity"]
        print(
            f"- quarantine vs injected defects: precision {q['precision']:.4f}, recall {q['recall']:.4f} "
            f"({q['quarantined']} quarantined, {q['expected']} expected)"
        )
        print(
            f"- identity on recoverable links: precision {i['precision']:.4f}, recall {i['recall']:.4f} "
            f"({i['identifiers']:,} identifiers)"
        )
    print(f"- staging rows: {json.dumps(ing['counts'])}")
    print(f"- warehouse file: {ing['warehouse']['mb']:,.0f} MB (DuckDB storage format {ing['warehouse']['format']})")
    fmts = sorted(floor_file["by_format"].items(), key=lambda kv: -kv[1][0])
    print(
        "\nfile floor by format (s / CPU-s, the first floor; the final CHECKPOINT not included): "
        + ", ".join(f"{k} {v[0]:.1f} / {v[1]:.1f}" for k, v in fmts)
    )
    if ing.get("load_top"):
        print(
            "\nload by format (s; read on a worker thread + write; reads run beside other batches' reads and "
            "writes, so these add up to more than the load): "
            + ", ".join(f"{k} {v:.1f}" for k, v in ing["load_top"])
        )
    if ing.get("build_top"):
        print("\nslowest build statements (XSJ_BENCH_PROFILE=1):")
        for sec, stmt in ing["build_top"]:
            print(f"- {sec:.1f} s `{stmt}`")


if __name__ == "__main__":
    main()
