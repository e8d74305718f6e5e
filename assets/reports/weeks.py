"""ISO weeks ↔ the Monday partition keys the pipeline uses (weeks run Monday–Sunday, Asia/Shanghai)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

_ISO = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


class BadWeekError(ValueError):
    """The --week value is neither an ISO week (2026-W47) nor a Monday date (2026-11-16)."""


def parse_week(text: str) -> dt.date:
    """``2026-W47`` or ``2026-11-16`` (any day of the week) → that week's Monday."""
    s = text.strip()
    m = _ISO.match(s)
    if m:
        try:
            return dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError as exc:
            raise BadWeekError(f"{text!r}: {exc}") from exc
    try:
        d = dt.date.fromisoformat(s)
    except ValueError as exc:
        raise BadWeekError(
            f"{text!r} is not a week: write it as 2026-W47 (ISO week) or 2026-11-16 (a date)"
        ) from exc
    return d - dt.timedelta(days=d.weekday())


def week_label(monday: dt.date) -> str:
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def week_end(monday: dt.date) -> dt.date:
    return monday + dt.timedelta(days=6)


def last_complete_week(now: dt.datetime | None = None, tz: str = "Asia/Shanghai") -> dt.date:
    today = (now or dt.datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()
    return today - dt.timedelta(days=today.weekday() + 7)
