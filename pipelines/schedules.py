"""Schedules: the Monday report and an optional daily refresh (Asia/Shanghai)."""

import dagster as dg

from pipelines.jobs import publish_job, weekly_report_job
from pipelines.partitions import TIMEZONE, previous_week_key


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
    job=publish_job,
    cron_schedule="0 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Optional: rebuild the marts at 06:00 Beijing time even if no new export arrived (keeps week-to-date "
    "numbers and churn/age-based metrics moving): the weeks since the last publish run, plus any unpublished data. "
    "Off by default; turn on in Dagit.",
)
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext):
    from pipelines.sensors import publish_request

    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return publish_request(
        context.instance, f"daily-refresh-{day}", "daily", now=context.scheduled_execution_time
    )
