"""All definitions load, and the wiring contract every layer relies on holds for whatever assets exist today."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = {"landing", "staging", "marts", "serving", "reports"}


@pytest.fixture(scope="module")
def defs():
    from pipelines.definitions import defs

    return defs


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "XIAOSHUJU_HOME": str(tmp_path / "xhome"), "DAGSTER_HOME": str(tmp_path / "dh")}
    (tmp_path / "dh").mkdir()
    exe = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(exe), "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_every_asset_sits_in_its_layer_group(graph):
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        assert node.group_name in LAYERS, f"{key.to_user_string()} is in group {node.group_name!r}"
        # keys name their warehouse schema: the layer's own, or quarantine/ops tables written by ingestion
        assert key.path[0] in {node.group_name, "quarantine", "ops"}, (
            f"{key.to_user_string()}: unexpected prefix"
        )


def test_every_asset_explains_itself(graph):
    for key in graph.materializable_asset_keys:
        assert (graph.get(key).description or "").strip(), f"{key.to_user_string()} has no business docstring"


def test_snapshot_comes_after_every_mart_and_reports_after_nothing_else(graph):
    snap = dg.AssetKey(["serving", "snapshot"])
    seen, todo = set(), [snap]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    marts = {k for k in graph.materializable_asset_keys if graph.get(k).group_name == "marts"}
    assert marts <= seen, f"snapshot does not wait for {sorted(k.to_user_string() for k in marts - seen)}"
    assert dg.AssetKey(["landing", "manifest"]) in seen


def test_warehouse_users_hold_the_single_writer_pool(defs, graph):
    """DuckDB locks the file per process: every step that opens the warehouse must be in pool duckdb_writer."""
    offenders = []
    for ad in [defs.resolve_assets_def(k) for k in graph.materializable_asset_keys]:
        if "warehouse" in ad.required_resource_keys and ad.op.pool != "duckdb_writer":
            offenders.append("/".join(ad.key.path))
    for cd in defs.asset_checks or []:
        if "warehouse" in cd.required_resource_keys and cd.node_def.pool != "duckdb_writer":
            offenders.append(f"check {cd.node_def.name}")
    assert not offenders, f"not in pool duckdb_writer: {sorted(set(offenders))}"


def test_partitioned_assets_are_weekly_and_marts_rebuild_in_one_run(graph):
    from pipelines.partitions import weekly_partitions

    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        if node.is_partitioned:
            assert node.partitions_def == weekly_partitions, key.to_user_string()
        if node.is_partitioned and node.group_name == "marts":  # the refresh run passes one range of weeks
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key.to_user_string()


def test_marts_have_a_freshness_policy(graph):
    for key in graph.materializable_asset_keys:
        if graph.get(key).group_name == "marts":
            assert graph.get(key).freshness_policy is not None, key.to_user_string()


def test_sensors_and_schedules(defs, graph):
    sensors = {s.name: s for s in defs.sensors}
    for name in ("inbox_sensor", "alert_on_failures", "run_watchdog"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["daily_refresh_0600"].default_status == dg.DefaultScheduleStatus.STOPPED
    has_reports = any(graph.get(k).group_name == "reports" for k in graph.materializable_asset_keys)
    if has_reports:
        weekly = schedules["weekly_report_monday_0800"]
        assert (weekly.cron_schedule, weekly.execution_timezone) == ("0 8 * * 1", "Asia/Shanghai")
        assert weekly.default_status == dg.DefaultScheduleStatus.RUNNING
    else:
        assert "weekly_report_monday_0800" not in schedules
    refresh = defs.resolve_job_def("refresh")
    selected = set(refresh.asset_layer.executable_asset_keys)
    assert not any(k.path[0] == "reports" for k in selected)
    assert dg.AssetKey(["serving", "snapshot"]) in selected
