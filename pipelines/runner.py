"""Run the whole asset graph from Python (used by `xiaoshuju run` / `xiaoshuju demo`, tests and bench).

landing → staging → every mart over one range of weekly partitions (first week with data → current week-to-date)
→ serving snapshot, recorded in the persistent DAGSTER_HOME so Dagit shows the runs next to sensor runs.

By default these are two runs of the ``refresh`` job: *ingest* (landing + staging), then *publish* (every mart
over the weeks new data can change, in one run, then the serving snapshot). The publish range comes from the
staging materialisation's metadata in the Dagster instance (pipelines.increments.publish_range): incremental since
the last successful publish run, or the data's first week → current week with ``full=True`` (``xiaoshuju run
--full``) or when nothing was published yet. Dagster records two events per partition per mart, which dominates a
small brand's run time when the partitions reach back two years (measured: ~0.1 s per event on a busy box).
Pass ``partition_range`` (or ``range_from="partitions"``) to fix the range instead.

``stage="each"`` runs the layers as separate runs (landing, staging, marts, serving) so bench can time them.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dagster as dg

from xiaoshuju.settings import Settings

TEMPLATE = Path(__file__).with_name("dagster.yaml")
STAGES = ("landing", "staging", "marts", "serving")
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def prepare_dagster_home(settings: Settings) -> Path:
    """A persistent DAGSTER_HOME under XIAOSHUJU_HOME with our dagster.yaml (pool limit 1)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != TEMPLATE.read_text():
        shutil.copyfile(TEMPLATE, target)
    init_instance_storage(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def init_instance_storage(dagster_home: Path) -> None:
    """Create the SQLite run/event/schedule storage once, before the webserver and the daemon start together:
    two processes creating a fresh DAGSTER_HOME at the same moment can both stamp the schema version."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.get_runs(limit=1)


def _stage_keys(defs: dg.Definitions, stages: tuple[str, ...]) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    return sorted(
        (k for k in graph.materializable_asset_keys if graph.get(k).group_name in stages),
        key=lambda k: k.to_user_string(),
    )


def _data_range(settings: Settings, wait_seconds: float = 30.0) -> tuple[str, str] | None:
    """Partition range covering the warehouse's data, or None when the warehouse cannot be read (locked by a
    writer for longer than ``wait_seconds``)."""
    import duckdb

    from pipelines.partitions import data_range, first_event_at

    if not settings.warehouse.exists():
        return data_range(None)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
                return data_range(first_event_at(conn))
        except duckdb.IOException:  # another process holds the write lock
            if time.monotonic() > deadline:
                return None
            time.sleep(1.0)


def materialize_all(
    settings: Settings,
    instance: dg.DagsterInstance | None = None,
    stage: str | None = None,
    partition_range: tuple[str, str] | None = None,
    defs: dg.Definitions | None = None,
    range_from: str = "data",
    full: bool = False,
) -> dict:
    """Materialise landing → staging → marts → serving, recording the runs in the persistent instance.

    ``stage``: None (ingest run, then publish run), one of STAGES (only that layer), or "each" (one run per
    layer, timed). ``partition_range`` fixes the weeks; otherwise ``range_from`` "data" (decided after ingestion
    from the instance: the weeks new data can change since the last publish run, or with ``full`` the data's first
    week → current week; without staging metadata, the warehouse's first event) or "partitions" (the whole
    partitions definition). A run that rebuilds every mart is tagged ``xiaoshuju/marts=all`` (a publish run).
    Returns {"success", "seconds", "run_id", "run_ids", "stages": {stage: seconds}, "partition_range",
    "range_reason"}.
    """
    os.environ["XIAOSHUJU_HOME"] = str(settings.home)
    from pipelines.alerts import PID_TAG, reap_dead_runs
    from pipelines.definitions import defs as project_defs
    from pipelines.increments import MARTS_ALL, MARTS_TAG
    from pipelines.partitions import range_tags
    from pipelines.resources import build_resources

    if instance is None:
        prepare_dagster_home(settings)
        instance = dg.DagsterInstance.get()
    # Resources for this settings' home, whatever home the definitions were loaded with.
    base = defs or project_defs
    defs = dg.Definitions(
        assets=base.assets,
        asset_checks=base.asset_checks,
        jobs=base.jobs,
        schedules=base.schedules,
        sensors=base.sensors,
        executor=base.executor,
        loggers=base.loggers,
        resources=build_resources(settings),
    )
    reap_dead_runs(instance)  # a killed earlier run must not hold the writer slot
    if stage is None:
        plan = [("ingest", ("landing", "staging")), ("publish", ("marts", "serving"))]
    elif stage == "each":
        plan = [(s, (s,)) for s in STAGES]
    elif stage in STAGES:
        plan = [(stage, (stage,))]
    else:
        raise ValueError(f"stage must be one of {STAGES} or 'each', not {stage!r}")
    job = defs.resolve_job_def("refresh")
    graph = defs.resolve_asset_graph()
    t0 = time.perf_counter()
    timings, run_ids, success, weeks = {}, [], True, partition_range
    why = "fixed" if partition_range else None
    all_marts = set(_stage_keys(defs, ("marts",)))
    for name, groups in plan:
        selection = _stage_keys(defs, groups)
        if not selection:
            timings[name] = 0.0
            continue
        tags = {PID_TAG: str(os.getpid()), "xiaoshuju/trigger": "cli"}
        if any(graph.get(k).is_partitioned for k in selection):
            if weeks is None:  # after ingestion, so the new files' weeks are known
                weeks, why = _decide_range(settings, instance, range_from, full)
            tags.update(range_tags(*weeks))
        if all_marts and all_marts <= set(selection) and partition_range is None:
            tags[MARTS_TAG] = MARTS_ALL  # a publish run: later incremental runs start from here
        t = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            tags=tags,
            asset_selection=selection,
            raise_on_error=False,
            run_config=CONSOLE_INFO,  # every event still goes to the instance (Dagit); the terminal gets INFO+
        )
        timings[name] = time.perf_counter() - t
        run_ids.append(result.run_id)
        if not result.success:
            success = False
            break
    return {
        "success": success,
        "seconds": time.perf_counter() - t0,
        "run_id": run_ids[-1] if run_ids else None,
        "run_ids": run_ids,
        "stages": timings,
        "partition_range": weeks,  # None when no partitioned asset ran
        "range_reason": why,
    }


def _decide_range(settings: Settings, instance, range_from: str, full: bool) -> tuple[tuple[str, str], str]:
    from pipelines.increments import publish_range
    from pipelines.partitions import full_history_range

    if range_from == "partitions":
        return full_history_range(), "whole partitions definition"
    decided = publish_range(instance, full=full)
    if decided is not None:
        return decided
    weeks = _data_range(settings)  # no staging event metadata (toy graphs): read the warehouse
    if weeks is not None:
        return weeks, "data's first week (read from the warehouse)"
    return full_history_range(), "whole partitions definition (warehouse locked)"
