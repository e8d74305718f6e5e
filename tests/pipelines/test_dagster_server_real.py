"""Acceptance on the project's real graph: simulator exports dropped into the inbox of a real webserver + daemon
start ingestion (inbox sensor) and then every mart (publish sensor), observed through GraphQL."""

import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster_server import REPO, DagsterServer, free_port, wait_for

from pipelines.partitions import week_key
from pipelines.runner import init_instance_storage
from xiaoshuju.serving import current_snapshot
from xiaoshuju.settings import load_settings

pytestmark = [pytest.mark.dagster_server, pytest.mark.slow]


def test_simulated_exports_flow_from_inbox_to_every_mart(tmp_path):
    from xiaoshuju.simulator import simulate

    home = tmp_path / "xhome"
    s = load_settings(home).ensure_dirs()
    staging_area = tmp_path / "exports"
    sim = simulate(
        "S", seed=1, out_dir=staging_area, truth_dir=s.ground_truth, weeks=4, members=300, groups=5
    )
    d = sim.week_starts[0]
    first_week = week_key(datetime(d.year, d.month, d.day, 12, tzinfo=ZoneInfo("Asia/Shanghai")))
    dh = tmp_path / "dagster_home"
    dh.mkdir()
    shutil.copyfile(REPO / "pipelines" / "dagster.yaml", dh / "dagster.yaml")
    init_instance_storage(dh)
    server = DagsterServer(
        REPO / "workspace.yaml",
        dh,
        port=free_port(),
        log_dir=tmp_path,
        env={
            "XIAOSHUJU_HOME": str(home),
            "XIAOSHUJU_HMAC_KEY": "test-secret-not-for-production",
            "XIAOSHUJU_PARTITION_START": first_week,  # this brand's data starts here
            "XIAOSHUJU_INBOX_SENSOR_INTERVAL": "3",
            "XIAOSHUJU_INBOX_SETTLE_SECONDS": "1",
            "GX_ANALYTICS_ENABLED": "false",
        },
    )
    try:
        server.start()
        shutil.copytree(staging_area, s.inbox, dirs_exist_ok=True)  # the brand drops its weekly exports
        [ingest] = wait_for(
            lambda: server.runs({"xiaoshuju/trigger": "inbox"}), 120, "the inbox sensor to launch a run"
        )
        assert server.wait_run(ingest["runId"], timeout=600) == "SUCCESS", server.logs()[-3000:]
        [run] = wait_for(  # then the publish sensor: every mart over the data's weeks, and the snapshot
            lambda: server.runs({"xiaoshuju/trigger": "staging"}), 120, "the publish sensor to launch a run"
        )
        assert server.wait_run(run["runId"], timeout=600) == "SUCCESS", server.logs()[-3000:]
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert tags["dagster/asset_partition_range_start"] == first_week, tags  # from staging's metadata
        from pipelines.definitions import defs

        graph = defs.resolve_asset_graph()
        marts = [k for k in graph.materializable_asset_keys if graph.get(k).group_name == "marts"]
        assert marts
        for key in marts:
            mats = [m for m in server.materializations(list(key.path)) if m["runId"] == run["runId"]]
            assert mats, f"{key.to_user_string()} not materialised by the sensor's run"
            if graph.get(key).is_partitioned:
                assert {m["partition"] for m in mats} >= {first_week}
        snap = current_snapshot(s.serving)
        assert snap.meta["run_id"] == run["runId"]
        assert snap.table("landing.manifest")["seen_count"].sum() == len(sim.files)
    finally:
        server.stop()
