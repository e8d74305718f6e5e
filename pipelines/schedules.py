"""Schedules: the Monday report and an optional daily refresh (Asia/Shanghai)."""

import dagster as dg

from pipelines.jobs import refresh_job, weekly_report_job
from pipelines.partitions import TIMEZONE, full_history_range, previous_week_key, range_tags


@dg.schedule(
    name="weekly_report_monday_0800",
    job=weekly_report_job,
    cron_schedule="0 8 * * 1",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every Monday 08:00 Beijing time: the report for the week that ended on Sunday.",
)
def weekly_report_schedule(context: dg.ScheduleEvaluationContext):
    week = previous_week_key(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"weekly-report-{week}", partition_key=week)


@dg.schedule(
    name="daily_refresh_0600",
    job=refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Optional: rebuild everything at 06:00 Beijing time even if no new export arrived "
    "(keeps week-to-date numbers and churn/age-based metrics moving). Off by default; turn on in Dagit.",
)
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext):
    start, end = full_history_range(context.scheduled_execution_time)
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(
        run_key=f"daily-refresh-{day}", tags={**range_tags(start, end), "xiaoshuju/trigger": "daily"}
    )
