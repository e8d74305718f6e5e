"""Simulator speed and memory: `python bench/bench_simulator.py [S M L] [--seed N] [--keep DIR]`.

Runs each scale in a fresh subprocess into a temporary folder and prints a markdown table of wall time, CPU time
(user + system: what the run costs when the machine is shared), peak RSS, files, orders, messages and the targets (S < 10 s, M < 2 min, L < 15 min, peak RSS at L < 6 GiB)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_S = {"S": 10, "M": 120, "L": 900}
CHILD = """
import json, resource, sys, time
from xiaoshuju.simulator import simulate
t = time.perf_counter()
res = simulate(sys.argv[1], int(sys.argv[2]), sys.argv[3] + "/inbox", sys.argv[3] + "/truth")
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss * 1024, **res.counts}))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scales", nargs="*", default=["S", "M"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", default=None, help="write into DIR/<scale> instead of a temp folder")
    args = ap.parse_args()
    rows = []
    for sc in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(args.keep) / sc if args.keep else Path(tmp)
            p = subprocess.run([sys.executable, "-c", CHILD, sc, str(args.seed), str(out)], capture_output=True,
                               text=True, check=True)
            r = json.loads(p.stdout.strip().splitlines()[-1])
            size = sum(f.stat().st_size for f in (out / "inbox").rglob("*") if f.is_file())
        rows.append((sc, r, size))
    print("| scale | wall time | target | CPU time | peak RSS | files | inbox size | members | groups | orders | messages |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sc, r, size in rows:
        ok = "ok" if r["wall"] < TARGET_S[sc] else "MISSED"
        print(f"| {sc} | {r['wall']:.1f} s | < {TARGET_S[sc]} s ({ok}) | {r.get('cpu', 0):.1f} s | "
              f"{r['rss'] / 2**30:.2f} GiB | {r['files']:,} | "
              f"{size / 2**20:,.0f} MiB | {r['members']:,} | {r['groups']:,} | {r['orders']:,} | {r['messages']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
