"""materialize_all: one recorded run from landing to the serving snapshot, every mart over the full history."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG, full_history_range, weekly_partitions
from pipelines.runner import STAGES, materialize_all
from xiaoshuju.serving import current_snapshot

pytestmark = (
    pytest.mark.slow
)  # each test builds a Dagster instance and runs the graph (~15 s on a busy CI box)


@pytest.fixture
def home(xhome, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(xhome.dagster_home))  # restored after the test
    (xhome.inbox / "unknown_export.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    return xhome


def toy_defs():
    from toy_graph import defs

    return defs


def test_default_run_ingests_then_publishes_the_weeks_with_data(home):
    from pipelines.partitions import week_key
    from xiaoshuju.warehouse import connect

    first = datetime.now(UTC) - timedelta(days=15)
    with connect(home.warehouse) as conn:  # an order two weeks back, as if staged earlier
        conn.execute(
            "INSERT INTO staging.orders (order_id, source, source_order_no, status, is_paid, created_at, paid_amount,"
            " net_amount, source_file_sha256) VALUES ('y:1', 'youzan', '1', 'paid', true, ?, 10, 10, 'abc')",
            [first],
        )
    out = materialize_all(home, defs=toy_defs())
    assert out["success"], out
    start, end = out["partition_range"]
    assert (start, end) == (week_key(first), full_history_range()[1])
    assert list(out["stages"]) == ["ingest", "publish"] and len(out["run_ids"]) == 2
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    ingest, publish = (instance.get_run_by_id(r) for r in out["run_ids"])
    assert RANGE_START_TAG not in ingest.tags and publish.tags[RANGE_START_TAG] == start
    mats = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["marts", "toy_weekly"])), limit=10
    )
    keys = weekly_partitions.get_partition_keys()
    assert sorted(m.partition_key for m in mats.records) == keys[keys.index(start) :]
    assert current_snapshot(home.serving).meta["run_id"] == publish.run_id


def test_materialize_all_records_one_run_and_publishes(home):
    defs = toy_defs()
    keys = weekly_partitions.get_partition_keys()
    start, end = keys[-4], keys[-1]  # a short range keeps the test fast; the default is the whole history
    out = materialize_all(home, defs=defs, partition_range=(start, end))
    assert out["success"], out
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    run = instance.get_run_by_id(out["run_id"])
    assert run.job_name == "refresh" and run.status == dg.DagsterRunStatus.SUCCESS
    assert (run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]) == (start, end)
    assert (home.dagster_home / "dagster.yaml").read_text().count("default_limit: 1") == 1
    # every partitioned asset got every week of the range in this one run
    graph = defs.resolve_asset_graph()
    partitioned = [
        k for k in graph.materializable_asset_keys if graph.get(k).is_partitioned and k.path[0] == "marts"
    ]
    assert partitioned == [dg.AssetKey(["marts", "toy_weekly"])]
    mats = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=partitioned[0]), limit=10).records
    assert sorted(m.partition_key for m in mats if m.run_id == run.run_id) == keys[-4:]
    snap = current_snapshot(home.serving)
    assert snap.meta["run_id"] == run.run_id
    assert snap.table("landing.manifest")["file_name"].to_list() == ["unknown_export.csv"]
    assert snap.table("marts.toy_weekly")["files"].to_list() == [1]
    # the check on the toy mart saw the unreadable file; the run still succeeded (checks inform, alerts tell)
    checks = {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data.passed
        for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    }
    assert checks == {"all_files_readable": False, "snapshot_complete": True}
    # ... and the snapshot carries the checks' latest results for the data-quality page and the PDF
    status = snap.table("ops.check_status")
    failed = status.filter(~status["passed"])
    assert failed["asset"].unique().to_list() == ["marts/toy_weekly"]
    assert failed["check_name"].unique().to_list() == ["all_files_readable"]


def test_stages_run_separately_and_are_timed(home):
    keys = weekly_partitions.get_partition_keys()
    out = materialize_all(home, stage="each", defs=toy_defs(), partition_range=(keys[-2], keys[-1]))
    assert out["success"], out
    assert set(out["stages"]) == set(STAGES)
    assert all(t >= 0 for t in out["stages"].values())
    assert current_snapshot(home.serving).meta["run_id"] == out["run_ids"][-1]
    with pytest.raises(ValueError, match="stage must be"):
        materialize_all(home, stage="nope", defs=toy_defs())
