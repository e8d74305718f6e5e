"""`xiaoshuju simulate`: write a simulated brand's exports into the inbox and its ground truth aside."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def _run(args) -> int:
    from tqdm import tqdm

    from xiaoshuju.settings import load_settings
    from xiaoshuju.simulator import simulate

    s = load_settings()
    out = Path(args.out) if args.out else s.inbox
    truth = Path(args.truth_dir) if args.truth_dir else s.ground_truth
    if truth.resolve().is_relative_to(out.resolve()):
        print(f"--truth-dir {truth} is inside the inbox {out}: everything in the inbox gets ingested", file=sys.stderr)
        return 2
    bars: dict[str, tqdm] = {}

    def progress(stage: str, i: int, n: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=n, desc=stage, unit="wk", leave=False))
        bar.update(i - bar.n)

    t = time.perf_counter()
    try:
        res = simulate(args.scale, args.seed, out, truth, weeks=args.weeks, defect_rate=args.defect_rate,
                       from_week=args.from_week, through_week=args.through_week, end=args.end, progress=progress)
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    for b in bars.values():
        b.close()
    c = res.counts
    print(f"simulated brand: scale {res.scale}, seed {res.seed}, {c['members']:,} members, {c['groups']:,} groups "
          f"({c['zombie_groups']} zombie), {c['dacs']} 大C ({c['promoted']} promoted), {c['orders']:,} orders, "
          f"{c['messages']:,} messages, {c['defects']} injected defects")
    print(f"wrote {len(res.files):,} files into {out} and the ground truth into {truth} "
          f"in {time.perf_counter() - t:.1f}s")
    return 0


def _week(v: str):
    return int(v) if v.lstrip("-").isdigit() else v


def register(sub) -> None:
    p = sub.add_parser("simulate", help="write a simulated brand's exports into the inbox (docs/simulator.md)")
    p.add_argument("--scale", choices=["S", "M", "L", "s", "m", "l"], default="S", type=str)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--weeks", type=int, default=None, help="weeks simulated (default S 26, M 52, L 104)")
    p.add_argument("--defect-rate", type=float, default=0.002, help="share of data rows with a defect (0 = clean)")
    p.add_argument("--end", default="2026-11-22", help="last day simulated (a Sunday)")
    p.add_argument("--out", default=None, help="inbox to write into (default $XIAOSHUJU_HOME/inbox)")
    p.add_argument("--truth-dir", default=None, help="ground truth folder (default $XIAOSHUJU_HOME/ground_truth)")
    p.add_argument("--from-week", type=_week, default=None, help="first batch to write (week index or date)")
    p.add_argument("--through-week", type=_week, default=None, help="last batch to write (week index or date)")
    p.set_defaults(func=_run)
