"""Zombie detection, dormant/declining states and alerts on hand-built groups with known dates."""

import datetime as dt

import pandas as pd
import pytest
from gv_fixtures import add_group, add_member, membership, msg, new_db, order

from assets.marts.group_vitality.build import build_alerts, build_brand_weekly, build_survival, build_weekly
from xiaoshuju.settings import Thresholds

D = dt.date


def _weekly_mondays(first: str, n: int) -> list[dt.date]:
    d0 = dt.date.fromisoformat(first)
    return [d0 + dt.timedelta(weeks=i) for i in range(n)]


@pytest.fixture(scope="module")
def zdb(tmp_path_factory):
    conn = new_db(tmp_path_factory.mktemp("gvz") / "wh.duckdb")
    add_member(conn, "staff1", is_staff=True)
    # z1: members talk until Saturday 2025-12-20 15:00; afterwards only the owner and staff post.
    add_group(conn, "z1", "o1", "2025-12-01 09:00")
    for m in ("o1", "m1", "m2", "staff1"):
        membership(conn, "z1", m, "join", "2025-12-01 09:00")
    for day in range(1, 21):
        msg(conn, "z1", "m1" if day % 2 else "m2", f"2025-12-{day:02d} 12:00")
    msg(conn, "z1", "m2", "2025-12-20 15:00")
    for day in ("2025-12-24", "2025-12-31", "2026-01-07", "2026-01-14"):
        msg(conn, "z1", "o1", f"{day} 10:00", owner=True)
        msg(conn, "z1", "staff1", f"{day} 10:05")
        msg(conn, "z1", "m1", f"{day} 10:06", recalled=True)  # recalled: does not revive the group
    order(conn, "o1", "z1", "2026-01-08 12:00", 50.0)  # the owner's own purchase: GMV, but not member activity
    order(conn, "staff1", "z1", "2026-01-08 13:00", 20.0)  # nor a staff purchase
    # z2: members silent after 2025-12-02 (a zombie 21 days later), revived by an attributed order on 2026-01-04.
    add_group(conn, "z2", "o2", "2025-12-01 09:00")
    for m in ("o2", "m3"):
        membership(conn, "z2", m, "join", "2025-12-01 09:00")
    msg(conn, "z2", "m3", "2025-12-02 12:00")
    order(conn, "m3", "z2", "2026-01-04 12:00", 88.0)
    # z3: only the owner ever speaks: a zombie since creation once older than 21 days.
    add_group(conn, "z3", "o3", "2025-12-01 09:00")
    membership(conn, "z3", "m4", "join", "2025-12-01 09:00")
    for day in ("2025-12-03", "2025-12-10", "2025-12-17", "2025-12-24"):
        msg(conn, "z3", "o3", f"{day} 10:00", owner=True)
    # r1: a group that goes silent for 3 weeks and then revives.
    add_group(conn, "r1", "o4", "2025-11-03 09:00")
    membership(conn, "r1", "m5", "join", "2025-11-03 09:00")
    for day in ("2025-11-04", "2025-11-11", "2025-11-18", "2025-11-25", "2026-01-06"):
        msg(conn, "r1", "m5", f"{day} 10:00")
    # the as-of time: the latest event in the data
    msg(conn, "z1", "o1", "2026-01-20 10:00", owner=True)
    build_weekly(conn, Thresholds())
    build_brand_weekly(conn)
    build_alerts(conn)
    build_survival(conn)
    df = conn.execute("SELECT * FROM marts.group_vitality_weekly ORDER BY group_id, week_start").df()
    df["week_start"] = df["week_start"].dt.date
    yield conn, df
    conn.close()


def _g(df, gid):
    return df[df.group_id == gid].set_index("week_start")


def test_zombie_after_21_silent_days_dated_one_usual_gap_after_the_last_member_message(zdb):
    _, df = zdb
    z1 = _g(df, "z1")
    assert list(z1.index) == _weekly_mondays("2025-12-01", 8)
    # eval 2025-12-29 00:00 -> 8.4 days silent (dormant); eval 2026-01-05 00:00 -> 15.4 (dormant);
    # eval 2026-01-12 00:00 -> 22.4 days: zombie
    states = z1.lifecycle_state.to_dict()
    assert states[D(2025, 12, 15)] == "active"
    assert states[D(2025, 12, 22)] == "dormant"
    assert states[D(2025, 12, 29)] == "dormant"
    assert states[D(2026, 1, 5)] == "zombie"
    assert states[D(2026, 1, 19)] == "zombie"
    zombies = z1[z1.is_zombie]
    # 21 member messages from creation (12-01 09:00) to the last one (12-20 15:00, 19.25 days): one every
    # 19.25 / 21 days = 22 h, so it died when the next was due, 12-21 13:00
    assert set(zombies.last_member_activity_at.dt.tz_convert("Asia/Shanghai").dt.date) == {D(2025, 12, 20)}
    assert set(zombies.zombie_since.dt.date) == {D(2025, 12, 21)}
    assert z1.loc[D(2026, 1, 5), "silence_days"] == pytest.approx(22 + 9 / 24)
    # owner and staff keep posting, recalled member messages do not count
    assert (zombies.speakers == 0).all() and (zombies.messages > 0).all()
    assert (z1.loc[D(2026, 1, 5), "buyers"], float(z1.loc[D(2026, 1, 5), "gmv"])) == (2, 70.0)


def test_attributed_order_counts_as_member_activity(zdb):
    _, df = zdb
    z2 = _g(df, "z2")
    assert z2.loc[D(2025, 12, 15), "lifecycle_state"] == "dormant"  # 19.5 days silent at 12-22 00:00
    assert z2.loc[D(2025, 12, 22), "lifecycle_state"] == "zombie"  # 26.5 days
    # one member act in its first 1.1 days: pace counted over at least 7 days -> gap 7 days (the cap) after 12-02
    assert z2.loc[D(2025, 12, 22), "zombie_since"].date() == D(2025, 12, 9)
    # the order on Sunday 01-04 revives it (its 4-week score is still far below the first week's: declining)
    assert z2.loc[D(2025, 12, 29), "lifecycle_state"] == "declining"
    assert z2.loc[D(2025, 12, 29), "silence_days"] == pytest.approx(0.5)
    assert (z2.loc[D(2025, 12, 29), "buyers"], z2.loc[D(2025, 12, 29), "speakers"]) == (1, 0)
    assert z2.loc[D(2026, 1, 5), "lifecycle_state"] == "dormant"  # 7.5 days after the order
    assert list(z2.lifecycle_state)[-1] == "dormant"  # 15.9 days at the as-of time: not yet a zombie again


def test_group_that_never_had_member_activity_is_dormant_not_zombie(zdb):
    _, df = zdb
    z3 = _g(df, "z3")
    assert z3.loc[D(2025, 12, 8), "lifecycle_state"] == "new"  # 13.6 days old at week end
    assert z3.loc[D(2025, 12, 15), "lifecycle_state"] == "dormant"  # 20.6 days
    assert (z3.loc[D(2025, 12, 22):, "lifecycle_state"] == "dormant").all()  # never came alive: not a zombie
    assert not z3.is_zombie.any() and z3.zombie_since.isna().all()
    assert pd.isna(z3.loc[D(2025, 12, 22), "last_member_activity_at"])


def test_revived_group_leaves_zombie_state(zdb):
    _, df = zdb
    r1 = _g(df, "r1")
    assert r1.loc[D(2025, 12, 15), "lifecycle_state"] == "zombie"  # 2025-11-25 + 21 days < 12-22 00:00
    assert r1.loc[D(2026, 1, 5), "lifecycle_state"] in ("active", "declining")
    assert not r1.loc[D(2026, 1, 5), "is_zombie"]


def test_alerts_only_when_entering_zombie(zdb):
    conn, _ = zdb
    a = conn.execute("SELECT group_id, week_start, alert_type, zombie_since, reason_zh, reason_en "
                     "FROM marts.group_alerts WHERE alert_type = 'zombie' ORDER BY group_id, week_start").df()
    got = [(r.group_id, r.week_start.date()) for r in a.itertuples()]
    assert got == [("r1", D(2025, 12, 15)), ("z1", D(2026, 1, 5)), ("z2", D(2025, 12, 22))]
    z1 = a[a.group_id == "z1"].iloc[0]
    assert "最后一次成员发言或成交在 2025-12-20" in z1.reason_zh and "沉寂 22 天" in z1.reason_zh
    assert "估计 2025-12-21 起成为僵尸群" in z1.reason_zh
    assert "Last member message or order on 2025-12-20" in z1.reason_en and "22 days" in z1.reason_en
    assert "Zombie since about 2025-12-21" in z1.reason_en and z1.zombie_since.date() == D(2025, 12, 21)


def test_brand_weekly_mirrors_wecom_fields(zdb):
    conn, df = zdb
    b = conn.execute("SELECT * FROM marts.group_brand_weekly WHERE week_start = DATE '2025-12-01'").df().iloc[0]
    week = df[df.week_start == D(2025, 12, 1)]
    assert b.chat_total == 4 and b.new_chat_cnt == 3  # r1 was created in November
    assert b.msg_total == week.messages.sum() and b.member_total == week.members_end.sum()
    assert b.member_has_msg == week.senders.sum() and b.new_member_cnt == week.joins.sum()
    assert b.chat_has_msg == (week.messages > 0).sum()
    last = conn.execute("SELECT zombie_groups, dormant_groups FROM marts.group_brand_weekly "
                        "WHERE week_start = DATE '2026-01-19'").fetchone()
    assert last == (1, 3)  # z1 zombie; z3 (never active), z2 (order 01-04) and r1 (spoke 01-06) dormant


def test_survival_kaplan_meier(zdb):
    conn, _ = zdb
    s = conn.execute("SELECT * FROM marts.group_survival WHERE cohort = '2025-12' ORDER BY t_days").df()
    # z2 (first spell) dies at 8 days (12-09), z1 at 20 days (12-21); z3 never dies: censored at its age (50 days
    # at the as-of time)
    assert list(s.t_days) == [0, 8, 20, 50]
    assert list(s.at_risk) == [3, 3, 2, 1]
    assert list(s.events) == [0, 1, 1, 0] and list(s.censored) == [0, 0, 0, 1]
    assert list(s.survival) == pytest.approx([1.0, 2 / 3, 1 / 3, 1 / 3])
    assert s.median_survival_days.iloc[0] == 20


def test_declining_when_4_week_score_falls_30_percent(tmp_path):
    """Ten members talk for four weeks, then only one of them speaks once a week."""
    conn = new_db(tmp_path / "d.duckdb")
    add_group(conn, "d1", "o", "2025-09-01 09:00")
    members = [f"m{i}" for i in range(10)]
    for m in ["o", *members]:
        membership(conn, "d1", m, "join", "2025-09-01 09:00")
    mondays = _weekly_mondays("2025-09-01", 8)
    for w, monday in enumerate(mondays):
        speakers = members if w < 4 else members[:1]
        for i, m in enumerate(speakers):
            for k in range(3 if w < 4 else 1):
                msg(conn, "d1", m, f"{monday + dt.timedelta(days=1 + k)} {10 + i % 10:02d}:{k:02d}")
    build_weekly(conn, Thresholds())
    build_alerts(conn)
    df = conn.execute("SELECT * FROM marts.group_vitality_weekly ORDER BY week_start").df()
    assert list(df.lifecycle_state) == ["new", "new", "active", "active", "active", "declining", "declining",
                                        "declining"]
    w5 = df.iloc[5]
    assert w5.score_4w_avg == pytest.approx(df.vitality_score.iloc[2:6].mean())
    assert w5.score_4w_avg_prev == pytest.approx(df.vitality_score.iloc[0:2].mean())
    assert w5.score_4w_avg <= 0.7 * w5.score_4w_avg_prev
    assert df.iloc[4].score_4w_avg > 0.7 * df.iloc[4].score_4w_avg_prev  # week 4: down, but less than 30%
    alerts = conn.execute("SELECT week_start, alert_type, reason_zh, reason_en FROM marts.group_alerts").fetchall()
    assert len(alerts) == 1 and alerts[0][0] == mondays[5] and alerts[0][1] == "declining"
    pct = round(100 * (1 - w5.score_4w_avg / w5.score_4w_avg_prev))
    assert f"下降 {pct}%" in alerts[0][2] and f"(-{pct}%)" in alerts[0][3]
    assert "发言成员 1 人" in alerts[0][2]
    conn.close()


def test_quiet_small_group_is_not_a_zombie_until_its_silence_is_unusual(tmp_path):
    """One member speaks about once a month: 21 silent days is normal for this group, not death."""
    conn = new_db(tmp_path / "q.duckdb")
    add_group(conn, "q1", "o", "2025-06-02 09:00")
    membership(conn, "q1", "m", "join", "2025-06-02 09:00")
    for day in ("2025-06-30", "2025-07-28", "2025-08-25"):  # 3 member messages over 84 days: 1 per 28 days
        msg(conn, "q1", "m", f"{day} 12:00")
    msg(conn, "q1", "o", "2025-11-24 10:00", owner=True)  # as-of
    build_weekly(conn, Thresholds())
    df = conn.execute("SELECT week_start, lifecycle_state, is_zombie, silence_days, silence_expected_activity, "
                      "zombie_since FROM marts.group_vitality_weekly ORDER BY week_start").df().set_index("week_start")
    # week of 2025-09-15: silent 27.5 days, expected 3 × 27.5 / 84.1 ≈ 1.0 < 2 -> dormant
    w = df.loc[pd.Timestamp("2025-09-15")]
    assert w.silence_expected_activity == pytest.approx(3 * w.silence_days / (84 + 3 / 24), rel=1e-6)
    assert (w.lifecycle_state, w.is_zombie) == ("dormant", False)
    # 2 expected acts after 56 days of silence: from the week ending 2025-10-27 (eval 10-27 00:00: 62.5 days) on
    first = df[df.is_zombie].index.min()
    assert first == pd.Timestamp("2025-10-20")
    assert df.loc[pd.Timestamp("2025-10-13"), "lifecycle_state"] == "dormant"
    # one member message every 28 days: the zombie date is the last message plus the 7-day cap
    assert df.loc[first, "zombie_since"] == pd.Timestamp("2025-09-01")
    conn.close()


@pytest.mark.parametrize("cap, since", [(0.0, "2025-08-25"), (7.0, "2025-09-01"), (30.0, "2025-09-22")])
def test_zombie_date_gap_cap_is_configurable(tmp_path, cap, since):
    """3 member messages from creation (06-02 09:00) to the last (08-25 12:00): 84.125 days / 3 = one every 28.04
    days. The zombie date is the last message plus min(28.04 days, cap): 08-25, 09-01, 09-22 (13:00)."""
    conn = new_db(tmp_path / "cap.duckdb")
    add_group(conn, "q1", "o", "2025-06-02 09:00")
    membership(conn, "q1", "m", "join", "2025-06-02 09:00")
    for day in ("2025-06-30", "2025-07-28", "2025-08-25"):
        msg(conn, "q1", "m", f"{day} 12:00")
    msg(conn, "q1", "o", "2025-11-24 10:00", owner=True)
    build_weekly(conn, Thresholds(zombie_date_max_gap_days=cap))
    got = conn.execute("SELECT DISTINCT zombie_since FROM marts.group_vitality_weekly WHERE is_zombie").fetchall()
    conn.close()
    assert got == [(D.fromisoformat(since),)]
