from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG, full_history_range
from pipelines.schedules import daily_refresh_schedule, weekly_report_schedule

SH = ZoneInfo("Asia/Shanghai")


def test_monday_report_covers_the_week_that_just_ended():
    ctx = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 23, 8, 0, tzinfo=SH))
    req = weekly_report_schedule(ctx)
    assert (req.partition_key, req.run_key) == ("2026-11-16", "weekly-report-2026-11-16")


def test_daily_refresh_without_staging_metadata_rebuilds_the_whole_range(tmp_path):
    when = datetime(2026, 11, 26, 6, 0, tzinfo=SH)
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        req = daily_refresh_schedule(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        )
    assert (req.tags[RANGE_START_TAG], req.tags[RANGE_END_TAG]) == full_history_range(when)
    assert req.tags["xiaoshuju/marts"] == "all"  # a publish run: later increments start from it
    assert req.run_key == "daily-refresh-2026-11-26"


def test_weekly_report_job_targets_only_the_reports():
    from pipelines.definitions import defs

    keys = {k for k in defs.resolve_asset_graph().materializable_asset_keys if k.path[0] == "reports"}
    if not keys:  # the reports layer has not landed: no job, no schedule
        assert "weekly_report_monday_0800" not in {s.name for s in defs.schedules}
        return
    job = defs.resolve_job_def("weekly_report")
    assert set(job.asset_layer.executable_asset_keys) == keys
    assert job.partitions_def is not None and "2026-11-16" in job.partitions_def.get_partition_keys(
        current_time=datetime(2026, 11, 26, tzinfo=SH)
    )
