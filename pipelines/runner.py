"""Run the whole asset graph from Python (used by `xiaoshuju run` / `xiaoshuju demo`, tests and bench)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dagster as dg

from xiaoshuju.settings import Settings

TEMPLATE = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(settings: Settings) -> Path:
    """A persistent DAGSTER_HOME under XIAOSHUJU_HOME with our dagster.yaml (pool limit 1)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != TEMPLATE.read_text():
        shutil.copyfile(TEMPLATE, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def materialize_all(settings: Settings, instance: dg.DagsterInstance | None = None) -> dict:
    """Materialise every asset once, in dependency order, recording the run in the persistent instance."""
    os.environ["XIAOSHUJU_HOME"] = str(settings.home)
    from pipelines.definitions import defs

    if instance is None:
        prepare_dagster_home(settings)
        instance = dg.DagsterInstance.get()
    graph = defs.resolve_asset_graph()
    unpartitioned = [
        defs.resolve_assets_def(k) for k in graph.get_all_asset_keys() if not graph.get(k).is_partitioned
    ]
    t0 = time.perf_counter()
    result = dg.materialize(
        list({id(a): a for a in unpartitioned}.values()),
        instance=instance,
    )
    return {"success": result.success, "seconds": time.perf_counter() - t0, "run_id": result.run_id}
