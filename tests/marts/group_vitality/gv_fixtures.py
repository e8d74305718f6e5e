"""Hand-built chat/membership/order fixtures for the group vitality mart. Times are written in Beijing time."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import duckdb

from xiaoshuju.warehouse import apply_schema

SH = ZoneInfo("Asia/Shanghai")
_ids = itertools.count(1)

ORDER_ATTRIBUTION_DDL = """
CREATE TABLE IF NOT EXISTS marts.order_attribution (
    order_id VARCHAR, member_id VARCHAR, paid_at TIMESTAMPTZ, week_start DATE, net_amount DECIMAL(18,2),
    group_id VARCHAR, group_owner_dac_id VARCHAR, first_touch_dac_id VARCHAR, last_touch_dac_id VARCHAR)
"""


def bj(s: str) -> dt.datetime:
    """'2026-01-06 23:50' in Beijing time -> aware datetime."""
    return dt.datetime.fromisoformat(s).replace(tzinfo=SH)


def new_db(path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(path))
    apply_schema(conn)
    conn.execute(ORDER_ATTRIBUTION_DDL)
    return conn


def add_group(conn, group_id: str, owner: str | None, created: str) -> None:
    conn.execute("INSERT INTO staging.groups (group_id, source, owner_member_id, created_at, first_event_at) "
                 "VALUES (?, 'wechat', ?, ?, ?)", [group_id, owner, bj(created), bj(created)])


def add_member(conn, member_id: str, is_staff: bool = False) -> None:
    conn.execute("INSERT INTO staging.members (member_id, is_staff) VALUES (?, ?)", [member_id, is_staff])


def membership(conn, group_id: str, member_id: str, event: str, at: str) -> None:
    conn.execute("INSERT INTO staging.group_memberships (group_id, member_id, event, event_at, source_format) "
                 "VALUES (?, ?, ?, ?, 'test')", [group_id, member_id, event, bj(at)])


def msg(conn, group_id: str, sender: str | None, at: str, kind: str = "text", *, question: bool = False,
        owner: bool = False, staff: bool = False, recalled: bool = False) -> str:
    mid = f"msg{next(_ids):06d}"
    conn.execute(
        "INSERT INTO staging.messages (message_id, group_id, sender_member_id, sent_at, kind, is_question, is_owner, "
        "is_staff, is_recalled, source_format) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'test')",
        [mid, group_id, sender, bj(at), kind, question, owner, staff, recalled])
    return mid


def order(conn, member_id: str, group_id: str | None, at: str, amount: float) -> None:
    paid = bj(at)
    local = paid.astimezone(SH).date()
    conn.execute("INSERT INTO marts.order_attribution VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                 [f"o{next(_ids):06d}", member_id, paid, local - dt.timedelta(days=local.weekday()), amount,
                  group_id])


def random_brand(conn, seed: int = 7, n_groups: int = 8, days: int = 100, start: str = "2025-10-01 00:00") -> None:
    """A seeded random brand: groups created over time, members joining/leaving, chat with questions, recalls and
    system notices, group-attributed orders; some groups go silent (only the owner keeps posting)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz="Asia/Shanghai")
    groups, members, events, msgs, orders = [], [], [], [], []
    staff = "staff_x"
    members.append((staff, True))
    for g in range(n_groups):
        gid, owner = f"g{g:02d}", f"own{g:02d}"
        created = t0 + pd.Timedelta(days=int(rng.integers(0, 40)), hours=int(rng.integers(0, 24)))
        death = created + pd.Timedelta(days=int(rng.integers(10, days))) if g % 3 == 0 else None
        groups.append((gid, owner, created))
        members.append((owner, False))
        events.append((gid, owner, "join", created))
        events.append((gid, staff, "join", created))
        roster = [f"{gid}_m{i:02d}" for i in range(int(rng.integers(5, 25)))]
        for m in roster:
            members.append((m, False))
            j = created + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 30)))
            events.append((gid, m, "join", j))
            if rng.random() < 0.2:
                events.append((gid, m, "join", j + pd.Timedelta(hours=1)))  # duplicate
            if rng.random() < 0.25:
                events.append((gid, m, "leave", j + pd.Timedelta(days=int(rng.integers(1, 60)))))
        end = t0 + pd.Timedelta(days=days)
        n = int(rng.integers(80, 400))
        times = created + pd.to_timedelta(np.sort(rng.uniform(0, (end - created).total_seconds(), n)), unit="s")
        for t in times:
            alive = death is None or t < death
            u = rng.random()
            if not alive or u < 0.25:
                sender, kind = owner, "text"
            elif u < 0.3:
                sender, kind = staff, "text"
            elif u < 0.33:
                sender, kind = None, "system"
            else:
                sender, kind = roster[int(rng.integers(0, len(roster)))], "text"
            recalled = kind == "text" and rng.random() < 0.05
            msgs.append((f"{gid}_{len(msgs):06d}", gid, sender, t, kind, bool(rng.random() < 0.15) and sender is not None,
                         sender == owner, sender == staff and rng.random() < 0.5, recalled))
            if alive and sender in roster and rng.random() < 0.1:
                orders.append((f"ord{len(orders):05d}", sender, t + pd.Timedelta(minutes=5),
                               round(float(rng.uniform(10, 300)), 2), gid))
    conn.executemany("INSERT INTO staging.groups (group_id, source, owner_member_id, created_at, first_event_at) "
                     "VALUES (?, 'wechat', ?, ?, ?)", [(g, o, c.to_pydatetime(), c.to_pydatetime()) for g, o, c in groups])
    unique_members = list({m[0]: m for m in reversed(members)}.values())  # first mention wins; no PK to ignore on
    conn.executemany("INSERT INTO staging.members (member_id, is_staff) VALUES (?, ?)", unique_members)
    ev = pd.DataFrame(events, columns=["group_id", "member_id", "event", "event_at"])
    conn.register("ev_df", ev)
    conn.execute("INSERT INTO staging.group_memberships (group_id, member_id, event, event_at, source_format) "
                 "SELECT group_id, member_id, event, event_at, 'test' FROM ev_df")
    md = pd.DataFrame(msgs, columns=["message_id", "group_id", "sender_member_id", "sent_at", "kind", "is_question",
                                     "is_owner", "is_staff", "is_recalled"])
    conn.register("msg_df", md)
    conn.execute("INSERT INTO staging.messages (message_id, group_id, sender_member_id, sent_at, kind, is_question, "
                 "is_owner, is_staff, is_recalled, source_format) SELECT *, 'test' FROM msg_df")
    od = pd.DataFrame(orders, columns=["order_id", "member_id", "paid_at", "net_amount", "group_id"])
    conn.register("ord_df", od)
    conn.execute("INSERT INTO marts.order_attribution (order_id, member_id, paid_at, net_amount, group_id) "
                 "SELECT order_id, member_id, paid_at, net_amount, group_id FROM ord_df")
    for name in ("ev_df", "msg_df", "ord_df"):
        conn.unregister(name)
