"""Weekly partitions: Monday–Sunday weeks in Asia/Shanghai (DESIGN.md §3)."""

from __future__ import annotations

import os

import dagster as dg

PARTITION_START = os.environ.get("XIAOSHUJU_PARTITION_START", "2024-11-25")  # a Monday

weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=PARTITION_START,
    timezone="Asia/Shanghai",
    day_offset=1,  # weeks start on Monday
    fmt="%Y-%m-%d",
)
