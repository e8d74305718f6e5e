"""Inbox sensor: new/changed files start one ingest run; a re-evaluation never starts a second one. Publish sensor:
unpublished staging data starts one publish run over the weeks it can change."""

import json
import os
import time

import dagster as dg

from pipelines.increments import FIRST_EVENT, MARTS_TAG, NEW_FIRST_EVENT, STAGING_KEY
from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG
from pipelines.resources import SettingsResource
from pipelines.sensors import changed_files, inbox_sensor, publish_sensor, run_key_for, scan_inbox


def _age(path, seconds=60):
    t = time.time() - seconds
    os.utime(path, (t, t))


def _tick(xhome, cursor):
    ctx = dg.build_sensor_context(
        cursor=cursor,
        instance=dg.DagsterInstance.ephemeral(),
        resources={"settings": SettingsResource(home=str(xhome.home))},
    )
    result = inbox_sensor(ctx)
    return result, ctx.cursor


def test_scan_skips_files_still_being_written(tmp_path):
    (tmp_path / "old.csv").write_text("a\n")
    _age(tmp_path / "old.csv")
    (tmp_path / "fresh.csv").write_text("b\n")
    (tmp_path / "copying.csv.part").write_text("c\n")
    _age(tmp_path / "copying.csv.part")
    seen, settling = scan_inbox(tmp_path, settle=5)
    assert list(seen) == ["old.csv"] and settling == ["fresh.csv"]


def test_changed_files_and_run_key():
    prev = {"a.csv": [1, 10], "b.csv": [2, 20]}
    seen = {"a.csv": [1, 10], "b.csv": [3, 30], "c.csv": [4, 40]}
    names = changed_files(seen, prev)
    assert names == ["b.csv", "c.csv"]
    assert run_key_for(seen, names) == run_key_for(dict(reversed(list(seen.items()))), names)
    assert run_key_for(seen, names) != run_key_for({**seen, "c.csv": [4, 41]}, names)


def test_sensor_requests_one_run_per_change(xhome):
    f = xhome.inbox / "订单数据.csv"
    f.write_text("订单号\nE1\n", encoding="utf-8")
    _age(f)
    result, cursor = _tick(xhome, None)
    assert isinstance(result, dg.RunRequest)
    assert RANGE_START_TAG not in result.tags  # ingest only: the publish sensor picks the weeks afterwards
    assert json.loads(cursor)["files"]["订单数据.csv"][0] == f.stat().st_size
    again, cursor2 = _tick(xhome, cursor)
    assert isinstance(again, dg.SkipReason)  # same inbox → no second run
    f.write_text("订单号\nE1\nE2\n", encoding="utf-8")  # a newer export under the same name
    _age(f, 30)
    changed, cursor3 = _tick(xhome, cursor2)
    assert isinstance(changed, dg.RunRequest) and changed.run_key != result.run_key
    f.unlink()  # landing archived it: the cursor forgets it
    gone, cursor4 = _tick(xhome, cursor3)
    assert isinstance(gone, dg.SkipReason) and json.loads(cursor4)["files"] == {}


def test_sensor_waits_for_a_file_being_copied(xhome):
    (xhome.inbox / "chat.csv").write_text("x\n")
    result, cursor = _tick(xhome, None)
    assert isinstance(result, dg.SkipReason) and "still being written" in str(result.skip_message)
    assert json.loads(cursor)["files"] == {}


def test_new_files_ride_along_with_a_queued_refresh(xhome, tmp_path):
    import uuid

    def run(selection=None):
        return dg.DagsterRun(
            job_name="refresh",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.NOT_STARTED,
            asset_selection=selection,
        )

    def tick(instance, cursor):
        ctx = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"settings": SettingsResource(home=str(xhome.home))}
        )
        return inbox_sensor(ctx), ctx.cursor

    (tmp_path / "dh").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dh")) as instance:
        f = xhome.inbox / "订单数据.csv"
        instance.add_run(run(frozenset({dg.AssetKey(["marts", "x"])})))  # a one-week mart run does not ingest
        f.write_text("订单号\nE1\n", encoding="utf-8")
        _age(f, 60)
        first, cursor = tick(instance, None)
        assert isinstance(first, dg.RunRequest)
        queued = instance.add_run(run())  # a full refresh waiting for its turn
        f.write_text("订单号\nE1\nE2\n", encoding="utf-8")
        _age(f, 30)
        second, cursor = tick(instance, cursor)
        assert isinstance(second, dg.SkipReason) and queued.run_id in second.skip_message
        instance.delete_run(queued.run_id)
        f.write_text("订单号\nE1\nE2\nE3\n", encoding="utf-8")
        _age(f, 20)
        third, _ = tick(instance, cursor)
        assert isinstance(third, dg.RunRequest)


def test_publish_sensor_follows_unpublished_staging(tmp_path):
    import uuid
    from datetime import UTC, datetime

    from pipelines.partitions import full_history_range, week_key

    def tick(instance):
        return publish_sensor(dg.build_sensor_context(instance=instance))

    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert "up to date" in tick(instance).skip_message  # nothing staged yet
        first = datetime(2026, 6, 3, tzinfo=UTC)
        md = {
            FIRST_EVENT: dg.MetadataValue.timestamp(first),
            NEW_FIRST_EVENT: dg.MetadataValue.timestamp(first),
        }
        instance.report_runless_asset_event(dg.AssetMaterialization(STAGING_KEY, metadata=md))
        busy = instance.add_run(
            dg.DagsterRun(job_name="ingest", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
        )
        assert "waiting for run" in tick(instance).skip_message  # an ingest is still running
        instance.delete_run(busy.run_id)
        req = tick(instance)
        assert isinstance(req, dg.RunRequest) and req.tags[MARTS_TAG] == "all"
        assert (req.tags[RANGE_START_TAG], req.tags[RANGE_END_TAG]) == (
            week_key(first),
            full_history_range()[1],
        )
        assert (
            tick(instance).run_key == req.run_key
        )  # same staging state → same key: Dagster launches it once
