"""`xiaoshuju run`, `xiaoshuju demo`, `xiaoshuju dagit`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from xiaoshuju.settings import load_settings

REPO = Path(__file__).resolve().parent.parent


def _run(args) -> int:
    from pipelines.runner import materialize_all

    s = load_settings().ensure_dirs()
    out = materialize_all(s, stage=getattr(args, "stage", None), full=getattr(args, "full", False))
    weeks = " .. ".join(out["partition_range"] or ("none",))
    if out.get("range_reason"):
        weeks += f", {out['range_reason']}"
    print(
        f"run {'succeeded' if out['success'] else 'FAILED'} in {out['seconds']:.1f}s "
        f"(run ids {', '.join(out['run_ids'])}; weeks {weeks})"
    )
    if len(out["stages"]) > 1:
        print("  " + ", ".join(f"{k} {v:.1f}s" for k, v in out["stages"].items()))
    _where(s)
    return 0 if out["success"] else 1


def _demo(args) -> int:
    s = load_settings().ensure_dirs()
    rc = subprocess.call(
        [sys.executable, "-m", "xiaoshuju.cli", "simulate", "--scale", "S", "--seed", str(args.seed)],
        env={**os.environ, "XIAOSHUJU_HOME": str(s.home)},
    )
    if rc != 0:
        print("simulator failed; not running the pipeline", file=sys.stderr)
        return rc
    rc = _run(args)
    if rc != 0:
        return rc
    # the executives' view too: the weekly PDF of the last complete week, rendered (not emailed)
    from assets.reports.cli import _report

    return _report(argparse.Namespace(week=None, send=False, force=False, lang=None))


def _where(s) -> None:
    print(
        "\nWhere things are:\n"
        f"  inbox (drop exports here)   {s.inbox}\n"
        f"  archive (originals by hash) {s.archive}\n"
        f"  warehouse (DuckDB)          {s.warehouse}\n"
        f"  serving snapshot            {s.serving}\n"
        f"  weekly PDF reports          {s.reports}\n"
        f"  Dagster home (run history)  {s.dagster_home}\n"
        "\nOpen:\n"
        "  Dagit (data engineers)      .venv/bin/xiaoshuju dagit      → http://127.0.0.1:3000\n"
        "  Dashboard (brand managers)  .venv/bin/xiaoshuju dashboard  → http://127.0.0.1:8501\n"
        "  Weekly PDF                  .venv/bin/xiaoshuju report --week 2026-W47\n"
    )


def _dagit(args) -> int:
    from pipelines.runner import prepare_dagster_home

    s = load_settings().ensure_dirs()
    prepare_dagster_home(s)
    env = {**os.environ, "XIAOSHUJU_HOME": str(s.home), "DAGSTER_HOME": str(s.dagster_home)}
    cmd = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "-w",
        str(REPO / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    return subprocess.call(cmd, env=env, cwd=REPO)


def register(sub) -> None:
    p = sub.add_parser("run", help="materialise every asset on what is in the inbox")
    p.add_argument(
        "--stage",
        choices=["landing", "staging", "marts", "serving", "each"],
        default=None,
        help="run one layer only, or 'each' layer as its own timed run (default: one run of everything)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="rebuild every week from the data's first week (default: only the weeks new data can change)",
    )
    p.set_defaults(func=_run)
    p = sub.add_parser("demo", help="generate the demo brand (scale S) and run the whole pipeline")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_demo)
    p = sub.add_parser("dagit", help="serve Dagit (Dagster's web UI)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=_dagit)
