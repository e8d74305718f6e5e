"""The project's real graph end to end on a small simulated brand: ingest run, then every mart over the weeks
that hold data, then a serving snapshot that carries every mart table."""

import dagster as dg
import pytest

from pipelines.partitions import week_key
from pipelines.runner import materialize_all
from xiaoshuju.serving import current_snapshot

pytestmark = pytest.mark.slow


def test_simulated_brand_end_to_end(xhome, monkeypatch):
    from xiaoshuju.simulator import simulate

    monkeypatch.setenv("DAGSTER_HOME", str(xhome.dagster_home))
    sim = simulate(
        "S", seed=1, out_dir=xhome.inbox, truth_dir=xhome.ground_truth, weeks=6, members=400, groups=6
    )
    out = materialize_all(xhome)
    assert out["success"], out
    start, _end = out["partition_range"]
    assert start == week_key_of(sim.week_starts[0])
    snap = current_snapshot(xhome.serving)
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    marts = [k for k in graph.materializable_asset_keys if graph.get(k).group_name == "marts"]
    instance = dg.DagsterInstance.from_config(str(xhome.dagster_home))
    for key in marts:  # every mart materialised in the publish run
        recs = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
        assert recs and recs[0].run_id == out["run_id"], key.to_user_string()
    missing = [k.to_user_string() for k in marts if ".".join(k.path) not in snap.tables]
    assert not missing, f"mart assets without a table in the snapshot: {missing}"
    assert snap.table("landing.manifest")["seen_count"].sum() == len(
        sim.files
    )  # every file, duplicates counted
    assert snap.data_as_of is not None


def week_key_of(d) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return week_key(datetime(d.year, d.month, d.day, 12, tzinfo=ZoneInfo("Asia/Shanghai")))
