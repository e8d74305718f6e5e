"""Known answers for every weekly metric on a hand-built group chat (docs/marts/group_vitality.md)."""

import datetime as dt
import math

import pandas as pd
import pytest
from gv_fixtures import add_group, add_member, membership, msg, new_db, order

from assets.marts.group_vitality.build import WEIGHTS, build_weekly
from xiaoshuju.settings import Thresholds

W1, W2 = dt.date(2026, 1, 5), dt.date(2026, 1, 12)


def curve(r):
    if r <= 0:
        return 0.0
    return 80 * r if r <= 1 else 80 + 20 * (1 - math.exp(-(r - 1)))


@pytest.fixture(scope="module")
def chat_db(tmp_path_factory):
    """Group g1 (owner o, staff s flagged only in staging.members) created Monday 2026-01-05 10:00 Beijing."""
    conn = new_db(tmp_path_factory.mktemp("gv") / "wh.duckdb")
    add_group(conn, "g1", "o", "2026-01-05 10:00")
    for m in ("o", "a", "b", "c", "d"):
        add_member(conn, m)
    add_member(conn, "s", is_staff=True)
    for m in ("o", "a", "b", "c", "s"):
        membership(conn, "g1", m, "join", "2026-01-05 10:00")
    membership(conn, "g1", "a", "join", "2026-01-06 08:00")  # duplicate join: collapsed
    membership(conn, "g1", "c", "leave", "2026-01-13 09:00")
    membership(conn, "g1", "d", "join", "2026-01-14 09:00")
    membership(conn, "g1", "e", "leave", "2026-01-14 10:00")  # first seen leaving: was a member since creation

    msg(conn, "g1", "o", "2026-01-05 10:05", owner=True)
    msg(conn, "g1", "o", "2026-01-05 10:06", owner=True)
    msg(conn, "g1", "a", "2026-01-06 23:50", question=True)  # answered by o at 00:10: 20 min across midnight
    msg(conn, "g1", "a", "2026-01-06 23:55")  # same asker: not an answer
    msg(conn, "g1", "o", "2026-01-07 00:10", owner=True)
    msg(conn, "g1", "c", "2026-01-08 10:00", question=True)  # answered by b at 10:30: 30 min
    msg(conn, "g1", "a", "2026-01-08 10:05", recalled=True)  # recalled: neither a message nor an answer
    msg(conn, "g1", None, "2026-01-08 10:06", kind="system")  # system notice: not speech
    msg(conn, "g1", "a", "2026-01-08 10:07", kind="recall")  # recall notice: not speech
    msg(conn, "g1", "b", "2026-01-08 10:30")
    msg(conn, "g1", "s", "2026-01-09 09:00", question=True)  # staff question: not a member question
    msg(conn, "g1", "s", "2026-01-09 09:01")
    msg(conn, "g1", "o", "2026-01-09 12:00", question=True, owner=True)  # owner question: excluded
    msg(conn, "g1", "a", "2026-01-10 08:00")
    msg(conn, "g1", "o", "2026-01-10 09:00", owner=True)
    msg(conn, "g1", "b", "2026-01-11 23:30", question=True)  # answered Monday 00:30: 60 min, across the week
    # week 2
    msg(conn, "g1", "a", "2026-01-12 00:30")
    msg(conn, "g1", "d", "2026-01-14 12:00")
    msg(conn, "g1", "d", "2026-01-14 12:01", kind="image")
    msg(conn, "g1", "d", "2026-01-14 12:02", question=True)  # never answered

    order(conn, "a", "g1", "2026-01-09 20:00", 100.00)
    order(conn, "a", "g1", "2026-01-11 23:59", 50.00)
    order(conn, "b", "g1", "2026-01-07 12:00", 30.00)
    order(conn, "c", "g2", "2026-01-07 12:00", 999.00)  # another group
    order(conn, "c", None, "2026-01-07 12:00", 999.00)  # no group
    order(conn, "d", "g1", "2026-01-12 00:10", 20.00)  # Monday 00:10 Beijing = Sunday in UTC: week 2
    build_weekly(conn, Thresholds())
    rows = conn.execute("SELECT * FROM marts.group_vitality_weekly ORDER BY week_start").df()
    yield conn, {r["week_start"].date(): r for _, r in rows.iterrows()}
    conn.close()


def test_one_row_per_week_from_creation(chat_db):
    _, rows = chat_db
    assert list(rows) == [W1, W2]


def test_membership(chat_db):
    _, rows = chat_db
    w1, w2 = rows[W1], rows[W2]
    assert (w1.members_end, w1.joins, w1.leaves, w1.net_growth) == (6, 5, 0, 5)
    assert (w2.members_end, w2.joins, w2.leaves, w2.net_growth) == (5, 1, 2, -1)
    assert w1.growth_rate == pytest.approx(5 / 1)  # started the week with e only (known member since creation)
    assert w2.growth_rate == pytest.approx(-1 / 6)


def test_messages_speakers_owner_share(chat_db):
    _, rows = chat_db
    w1 = rows[W1]
    # speech in week 1: owner 5, a 3, b 2, staff 2, c 1 (recalled, recall notice and system notice excluded)
    assert (w1.messages, w1.member_messages, w1.owner_messages) == (13, 6, 5)
    assert (w1.senders, w1.speakers) == (5, 3)
    assert w1.speak_rate == pytest.approx(3 / 6)
    assert w1.messages_per_speaker == pytest.approx(6 / 3)
    assert w1.observed_days == pytest.approx(6 + 14 / 24)  # created Monday 10:00
    assert w1.messages_per_member == pytest.approx(6 / 6 * 7 / (6 + 14 / 24))  # first week: per member at week end
    assert w1.owner_share == pytest.approx(5 / 13)
    assert w1.owner_dependence == 2  # owner 5 + a 3 = 8 >= 6.5
    w2 = rows[W2]
    assert (w2.messages, w2.speakers, w2.owner_share, w2.owner_dependence) == (4, 2, 0, 1)


def test_first_response_across_midnight_and_week(chat_db):
    _, rows = chat_db
    w1, w2 = rows[W1], rows[W2]
    assert (w1.member_questions, w1.answered_questions) == (3, 3)
    assert w1.median_first_response_minutes == pytest.approx(30.0)  # median of 20, 30, 60
    assert (w2.member_questions, w2.answered_questions) == (1, 0)
    assert math.isnan(w2.median_first_response_minutes) or w2.median_first_response_minutes is None


def test_buyers_gmv_conversion(chat_db):
    _, rows = chat_db
    w1, w2 = rows[W1], rows[W2]
    assert (w1.buyers, w1.orders, float(w1.gmv)) == (2, 3, 180.0)
    assert w1.conversion == pytest.approx(2 / 6)
    assert w1.gmv_per_member == pytest.approx(180 / 6)
    assert (w2.buyers, float(w2.gmv)) == (1, 20.0)


def test_scores_follow_the_documented_curve(chat_db):
    _, rows = chat_db
    t = Thresholds()
    w1 = rows[W1]
    expected = {
        "score_speak_rate": curve(0.5 / t.target_speak_rate),
        "score_activity": curve(7 / (6 + 14 / 24) / t.target_msgs_per_member),
        "score_conversion": curve((2 / 6) / t.target_conversion),
        "score_growth": curve((5.0 / t.target_net_growth + 1) / 2),
        "score_response": curve(t.target_first_response_minutes / 30.0),
    }
    for k, v in expected.items():
        assert w1[k] == pytest.approx(v), k
    assert expected["score_response"] == pytest.approx(80.0)
    assert w1.vitality_score == pytest.approx(sum(WEIGHTS[k] * v for k, v in expected.items()))
    w2 = rows[W2]
    assert w2.score_response is None or math.isnan(w2.score_response)  # no answered question: weight dropped
    avail = {k: w2[k] for k in WEIGHTS if k != "score_response"}
    assert w2.vitality_score == pytest.approx(
        sum(WEIGHTS[k] * v for k, v in avail.items()) / sum(WEIGHTS[k] for k in avail))
    assert w2.score_4w_avg == pytest.approx((w1.vitality_score + w2.vitality_score) / 2)
    for r in rows.values():
        assert 0 <= r.vitality_score <= 100


def test_new_group_lifecycle_and_age(chat_db):
    _, rows = chat_db
    w1, w2 = rows[W1], rows[W2]
    assert w1.group_age_days == 6  # 2026-01-05 10:00 -> Monday 2026-01-12 00:00
    # week 2 is the as-of week: evaluated at the latest event (2026-01-14 12:02), not at Sunday
    assert w2.group_age_days == 9
    assert w2.observed_days == pytest.approx(2.5 + 2 / 1440)
    # per member at week start (6), per full week (2.5 days observed so far)
    assert w2.messages_per_member == pytest.approx(4 / 6 * 7 / (2.5 + 2 / 1440))
    assert (w1.lifecycle_state, w2.lifecycle_state) == ("new", "new")
    assert pd.isna(w1.prev_lifecycle_state) and w2.prev_lifecycle_state == "new"
    assert not w1.is_zombie and not w2.is_zombie
    assert w1.owner_member_id == "o"


def test_column_comments_come_from_the_registry(chat_db):
    conn, _ = chat_db
    comment = conn.execute(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = 'group_vitality_weekly' "
        "AND column_name = 'owner_dependence'").fetchone()[0]
    assert "核心发言人数" in comment and "50%" in comment


def test_first_response_after_a_long_monologue_and_ties(tmp_path):
    """The asker keeps talking (more messages than the one-pass look-ahead); same-second messages keep their order."""
    conn = new_db(tmp_path / "m.duckdb")
    add_group(conn, "g9", "o", "2026-01-05 08:00")
    msg(conn, "g9", "a", "2026-01-06 10:00", question=True)
    for k in range(1, 7):
        msg(conn, "g9", "a", f"2026-01-06 10:{k:02d}")
    msg(conn, "g9", "b", "2026-01-06 10:30", recalled=True)  # recalled: not the answer
    msg(conn, "g9", "b", "2026-01-06 11:15")  # answer after 75 minutes
    msg(conn, "g9", "c", "2026-01-07 09:00", question=True)
    msg(conn, "g9", "d", "2026-01-07 09:00")  # same second, after the question: answered in 0 minutes
    msg(conn, "g9", "e", "2026-01-08 09:00", question=True)
    for k in range(1, 9):
        msg(conn, "g9", "e", f"2026-01-08 09:{k:02d}")
    msg(conn, "g9", "f", "2026-01-16 09:00")  # 8 days later: beyond the 7-day cap, unanswered
    build_weekly(conn, Thresholds())
    w = conn.execute("SELECT member_questions, answered_questions, median_first_response_minutes "
                     "FROM marts.group_vitality_weekly WHERE week_start = DATE '2026-01-05'").fetchone()
    assert w == (3, 2, pytest.approx((75 + 0) / 2))
    conn.close()


def test_roles_are_per_message_for_senders_with_mixed_flags(tmp_path):
    """A member whose messages are sometimes flagged staff, an unflagged owner, a sender flagged owner: each message
    takes its own role; each sender counts once."""
    conn = new_db(tmp_path / "roles.duckdb")
    add_group(conn, "g", "o", "2026-01-05 10:00")
    add_member(conn, "s", is_staff=True)
    msg(conn, "g", "m", "2026-01-06 10:00")
    msg(conn, "g", "m", "2026-01-06 11:00")
    msg(conn, "g", "m", "2026-01-06 12:00", staff=True)  # flagged staff: not member speech
    msg(conn, "g", "s", "2026-01-06 13:00")  # staff in staging.members
    msg(conn, "g", "o", "2026-01-06 14:00")  # the group's owner, not flagged
    msg(conn, "g", "x", "2026-01-06 15:00", owner=True)  # flagged owner
    build_weekly(conn, Thresholds())
    r = conn.execute("SELECT messages, member_messages, owner_messages, senders, speakers, owner_dependence, "
                     "last_member_activity_at FROM marts.group_vitality_weekly").fetchall()
    conn.close()
    assert len(r) == 1
    messages, member_messages, owner_messages, senders, speakers, dependence, last_at = r[0]
    assert (messages, member_messages, owner_messages, senders, speakers) == (6, 2, 2, 4, 1)
    assert dependence == 1  # m sent 3 of 6: half of the messages
    assert last_at == dt.datetime(2026, 1, 6, 3, 0, tzinfo=dt.UTC)  # m's 11:00 Beijing message
