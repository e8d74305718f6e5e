"""Weekly partitions: Monday–Sunday weeks in Asia/Shanghai (DESIGN.md §3).

The partition key is the Monday the week starts on (``2026-11-16``). The set ends with the **current, still
running week** (``end_offset=1``): a full run recomputes it as week-to-date so the dashboard shows "this week so
far". The weekly report and its schedule only ever use the last *complete* week (``previous_week_key``).

``XIAOSHUJU_PARTITION_START`` (a Monday) moves the first week; data older than it is not in any weekly mart.
"""

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from xiaoshuju.warehouse import EVENT_COLUMNS

TIMEZONE = "Asia/Shanghai"
PARTITION_START = os.environ.get("XIAOSHUJU_PARTITION_START", "2024-11-25")  # a Monday
KEY_FMT = "%Y-%m-%d"

weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=PARTITION_START,
    timezone=TIMEZONE,
    day_offset=1,  # weeks start on Monday
    fmt=KEY_FMT,
    end_offset=1,  # include the current week (week-to-date)
)

# Tags that make one run cover a contiguous range of partitions (used with BackfillPolicy.single_run()).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(ZoneInfo(TIMEZONE))).astimezone(ZoneInfo(TIMEZONE))


def week_key(ts: datetime) -> str:
    """The partition key (that week's Monday, Asia/Shanghai) of an aware timestamp."""
    local = ts.astimezone(ZoneInfo(TIMEZONE))
    return (local - timedelta(days=local.weekday())).strftime(KEY_FMT)


def previous_week_key(now: datetime | None = None) -> str:
    """The last complete week at ``now`` — what the Monday report covers."""
    return week_key(_now(now) - timedelta(days=7))


def full_history_range(now: datetime | None = None) -> tuple[str, str]:
    """(first, last) partition keys: the whole history up to and including the current week."""
    keys = weekly_partitions.get_partition_keys(current_time=_now(now))
    if not keys:  # PARTITION_START in the future
        raise ValueError(
            f"no weekly partitions yet: XIAOSHUJU_PARTITION_START={PARTITION_START} is in the future"
        )
    return keys[0], keys[-1]


def range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags for one run over weeks ``start``..``end`` (inclusive); unpartitioned assets ignore them."""
    return {RANGE_START_TAG: start, RANGE_END_TAG: end}


def first_event_at(conn) -> datetime | None:
    """Earliest business event in staging (orders, messages, memberships, referrals), or None."""
    existing = set(conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())
    firsts = []
    for table, col in EVENT_COLUMNS:  # the business-event column of each staging table
        if ("staging", table) in existing:
            (v,) = conn.execute(f'SELECT min("{col}") FROM staging."{table}"').fetchone()
            if v is not None:
                firsts.append(v)
    return min(firsts) if firsts else None


def data_range(first_event: datetime | None, now: datetime | None = None) -> tuple[str, str]:
    """(first, last) partition keys covering the data: from the week of the first event (never before the first
    partition) to the current week. Without any event, just the current week."""
    start, end = full_history_range(now)
    if first_event is None:
        return end, end
    return min(max(week_key(first_event), start), end), end
