"""Group vitality mart: the pure build (DuckDB SQL; no Dagster). Definitions: docs/marts/group_vitality.md.

Everything heavy is one set of DuckDB aggregates and window functions; Python only orchestrates statements.
Each weekly build computes a *slice* of weeks — the requested window plus ``LOOKBACK_WEEKS`` before it (for the
4-week score comparison and the previous lifecycle state) — and then replaces only the window's rows, so a
rebuild of one week touches only that week and a backfill over all weeks equals a full build.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from xiaoshuju.metrics import all_metrics, column_comment
from xiaoshuju.settings import Thresholds
from xiaoshuju.warehouse import memory_limit, transaction

SCHEMA_SQL = Path(__file__).with_name("schema.sql")

LOOKBACK_WEEKS = 8  # 4-week mean now vs 4 weeks ago (7 weeks back) + the previous week's state (1 more)
REPLY_CAP_DAYS = 7  # a question not answered within 7 days counts as unanswered
DORMANT_DAYS = 7  # silent this long (but not yet a zombie) = dormant
# Vitality is chat liveliness (DESIGN §5: "chat activity driven by a per-group vitality"): the three chat measures
# carry 85 % of the weight, growth 10 %, commerce (conversion) 5 % — GMV and conversion are reported in their own
# columns and marts, and a week's conversion in a small group is mostly noise (1 buyer of 5 members = 20 %).
# Within chat, activity weighs most: speak rate saturates as a few regulars do most of the talking.
WEIGHTS = {
    "score_activity": 0.55,
    "score_speak_rate": 0.20,
    "score_response": 0.10,
    "score_growth": 0.10,
    "score_conversion": 0.05,
}
TABLES = ("group_vitality_weekly", "group_brand_weekly", "group_alerts", "group_survival")

# Columns that are not metrics still get a comment (identifiers and bookkeeping).
_PLAIN_COMMENTS = {
    "group_id": "社群 / group id",
    "week_start": "周一（Asia/Shanghai）/ Monday of the week (Asia/Shanghai)",
    "owner_member_id": "群主（大C）/ group owner (大C)",
    "group_created_at": "建群时间 / group creation time (UTC)",
    "alert_type": "预警类型 / alert type: zombie | declining",
    "reason_zh": "预警原因（中文）/ reason in Chinese",
    "reason_en": "预警原因（英文）/ reason in English",
    "cohort": "建群月份队列 / creation-month cohort (YYYY-MM or all)",
    "cohort_groups": "队列社群数 / groups in the cohort",
    "t_days": "建群后天数 / days since creation",
    "at_risk": "风险集 / groups at risk just before t",
    "events": "当天变为僵尸群的数量 / groups turning zombie at t",
    "censored": "当天删失数 / groups censored at t",
}


@dataclass(frozen=True)
class BuildResult:
    rows_deleted: int
    rows_inserted: int
    week_from: dt.date | None
    week_to: dt.date | None
    as_of: dt.datetime | None


def monday(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the mart tables if missing and (re)write their column comments from the metric registry.

    A table whose columns differ from schema.sql (an older version of this mart) is dropped and recreated — these
    are derived tables; rebuild them with a backfill. Returns the names of the tables recreated that way."""
    ddl = SCHEMA_SQL.read_text(encoding="utf-8")
    conn.execute(ddl.replace("CREATE TABLE IF NOT EXISTS marts.", "CREATE OR REPLACE TEMP TABLE gvddl_"))
    recreated = []
    for table in TABLES:
        want = _columns(conn, "temp", f"gvddl_{table}")
        have = _columns(conn, "marts", table)
        if have and have != want:
            conn.execute(f"DROP TABLE marts.{table}")
            recreated.append(table)
        conn.execute(f"DROP TABLE gvddl_{table}")
    conn.execute(ddl)
    keys = {m.key for m in all_metrics()}
    for table in TABLES:
        for col in _columns(conn, "marts", table):
            text = column_comment(col) if col in keys else _PLAIN_COMMENTS.get(col)
            if text:
                # COMMENT ON takes no bound parameters: quote the registry text as a SQL literal.
                literal = "'" + text.replace("'", "''") + "'"
                conn.execute(f"COMMENT ON COLUMN marts.{table}.{col} IS {literal}")
    return recreated


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """Column names of ``schema.table`` in this database (``schema='temp'``: the connection's temp tables)."""
    db_filter = "database_name = 'temp'" if schema == "temp" else \
        "database_name = current_database() AND schema_name = ?"
    params = [table] if schema == "temp" else [schema, table]
    return [r[0] for r in conn.execute(
        f"SELECT column_name FROM duckdb_columns() WHERE {db_filter} AND table_name = ? ORDER BY column_index",
        params).fetchall()]


def _has_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchone()[0])


def _orders_source(conn: duckdb.DuckDBPyConnection) -> None:
    """gv_orders: group-attributed orders (empty when marts.order_attribution is not built yet)."""
    if _has_table(conn, "marts", "order_attribution"):
        conn.execute("""
            CREATE OR REPLACE TEMP VIEW gv_orders AS
            SELECT group_id, member_id, paid_at, net_amount FROM marts.order_attribution
            WHERE group_id IS NOT NULL AND paid_at IS NOT NULL""")
    else:
        conn.execute("""
            CREATE OR REPLACE TEMP VIEW gv_orders AS
            SELECT NULL::VARCHAR AS group_id, NULL::VARCHAR AS member_id, NULL::TIMESTAMPTZ AS paid_at,
                   NULL::DECIMAL(18,2) AS net_amount WHERE false""")


def data_bounds(conn: duckdb.DuckDBPyConnection, tz: str) -> tuple[dt.date | None, dt.datetime | None]:
    """(Monday of the first group's creation week, as-of time = latest message or order seen; membership and group
    snapshots only when there is no activity at all — a snapshot taken after the last export must not open a new,
    empty week)."""
    _orders_source(conn)
    first, as_of = conn.execute("""
        SELECT (SELECT min(coalesce(created_at, first_event_at)) FROM staging.groups),
               coalesce(greatest((SELECT max(sent_at) FROM staging.messages), (SELECT max(paid_at) FROM gv_orders)),
                        greatest((SELECT max(event_at) FROM staging.group_memberships),
                                 (SELECT max(coalesce(created_at, first_event_at)) FROM staging.groups)))
        """).fetchone()
    if first is None or as_of is None:
        return None, None
    zone = ZoneInfo(tz)
    return monday(first.astimezone(zone).date()), as_of


# --------------------------------------------------------------------------------------------------------------
# The statements. Named parameters: $tz, $slice_ws/$ws/$we (DATE Mondays), $slice_start/$window_end/$reply_end
# (TIMESTAMPTZ), $as_of, thresholds. "Speech" = not a system notice, not a recall notice, not later recalled.

_SPEECH = "kind NOT IN ('system', 'recall') AND NOT is_recalled AND sender_member_id IS NOT NULL"

_SQL_GROUPS = """
CREATE OR REPLACE TEMP TABLE gv_groups AS
SELECT group_id, owner_member_id, coalesce(created_at, first_event_at) AS created_at,
       CAST(date_trunc('week', timezone($tz, coalesce(created_at, first_event_at))) AS DATE) AS created_week
FROM staging.groups
WHERE coalesce(created_at, first_event_at) IS NOT NULL
"""

# Role of a message: owner if flagged or sent by the group's owner; staff if flagged or the sender is staff in
# staging.members; otherwise member.
_ROLE = """CASE WHEN {m}.is_owner OR {m}.sender_member_id IS NOT DISTINCT FROM g.owner_member_id THEN 'owner'
            WHEN {m}.is_staff OR coalesce(mb.is_staff, false) THEN 'staff' ELSE 'member' END"""

# One row per group, week and sender: all their speech (n), and how much of it had the owner and the member role
# (per message, as _ROLE) — so senders and speakers are plain counts of rows.
_PLAIN = "NOT coalesce(is_owner, false) AND NOT coalesce(is_staff, false)"
_SQL_SENDERS = f"""
CREATE OR REPLACE TEMP TABLE gv_senders AS
WITH s AS (
    SELECT group_id, {{week}} AS week_start, sender_member_id, count(*) AS n,
           count(*) FILTER (WHERE coalesce(is_owner, false)) AS n_owner_flag,
           count(*) FILTER (WHERE {_PLAIN}) AS n_plain,
           max(sent_at) FILTER (WHERE {_PLAIN}) AS last_plain_at
    FROM staging.messages
    WHERE sent_at >= $slice_start AND sent_at < $window_end AND {_SPEECH}
    GROUP BY ALL
), r AS (
    SELECT s.*, s.sender_member_id IS NOT DISTINCT FROM g.owner_member_id AS is_group_owner,
           coalesce(mb.is_staff, false) AS is_staff_member
    FROM s
    LEFT JOIN gv_groups g USING (group_id)
    LEFT JOIN staging.members mb ON mb.member_id = s.sender_member_id
)
SELECT group_id, week_start, sender_member_id AS sender, n,
       CASE WHEN is_group_owner THEN n ELSE n_owner_flag END AS owner_n,
       CASE WHEN is_group_owner OR is_staff_member THEN 0 ELSE n_plain END AS member_n,
       CASE WHEN is_group_owner OR is_staff_member THEN NULL ELSE last_plain_at END AS member_last_at
FROM r
"""

# owner dependence = senders, by falling message count, needed to pass half of the week's messages (a sender counts
# if the messages before them are still < 50 %).
_SQL_MSG_WEEK = """
CREATE OR REPLACE TEMP TABLE gv_msg_week AS
SELECT group_id, week_start,
       sum(n) AS messages,
       sum(member_n) AS member_messages,
       sum(owner_n) AS owner_messages,
       count(*) AS senders,
       count(*) FILTER (WHERE member_n > 0) AS speakers,
       count(*) FILTER (WHERE cum - n < 0.5 * tot) AS owner_dependence,
       max(member_last_at) AS last_member_msg_at
FROM (SELECT *, sum(n) OVER (PARTITION BY group_id, week_start ORDER BY n DESC, sender
                             ROWS UNBOUNDED PRECEDING) AS cum,
                sum(n) OVER (PARTITION BY group_id, week_start) AS tot
      FROM gv_senders)
GROUP BY group_id, week_start
"""

# First response to a member's question = the first later speech (in (sent_at, message_id) order) by a different
# sender. One sorted pass looks RESPONSE_LEADS messages ahead; the rare question followed by more messages of the
# asker is resolved by a direct lookup. Messages up to the reply cap after the window are scanned.
RESPONSE_LEADS = 4
_LEADS = ",\n           ".join(
    f"lead(sender_member_id, {k}) OVER w AS s{k}, lead(sent_at, {k}) OVER w AS t{k}"
    for k in range(1, RESPONSE_LEADS + 1))
_FIRST_OTHER = "CASE " + " ".join(
    f"WHEN sp.s{k} <> sp.sender_member_id THEN sp.t{k}" for k in range(1, RESPONSE_LEADS + 1)) + " END"

_SQL_QUESTIONS = f"""
CREATE OR REPLACE TEMP TABLE gv_questions AS
WITH sp AS (
    SELECT message_id, group_id, sent_at, sender_member_id, is_question, is_owner, is_staff,
           {_LEADS}
    FROM staging.messages
    WHERE sent_at >= $slice_start AND sent_at < $reply_end AND {_SPEECH}
    WINDOW w AS (PARTITION BY group_id ORDER BY sent_at, message_id)
)
SELECT sp.group_id, sp.message_id, sp.sent_at, sp.sender_member_id AS sender,
       {{week}} AS week_start,
       {_FIRST_OTHER} AS reply_at,
       {_FIRST_OTHER} IS NULL AND sp.t{RESPONSE_LEADS} IS NOT NULL AS unresolved
FROM sp
LEFT JOIN gv_groups g USING (group_id)
LEFT JOIN staging.members mb ON mb.member_id = sp.sender_member_id
WHERE sp.is_question AND sp.sent_at < $window_end AND {_ROLE.format(m="sp")} = 'member'
"""

_SQL_RESPONSE = f"""
CREATE OR REPLACE TEMP TABLE gv_response AS
WITH unresolved AS (
    SELECT message_id, group_id, sent_at, sender, to_timestamp(epoch(sent_at) + {REPLY_CAP_DAYS * 86400}) AS cap_at
    FROM gv_questions WHERE unresolved
), fix AS (
    SELECT q.message_id, min(m.sent_at) AS reply_at
    FROM unresolved q
    JOIN staging.messages m ON m.group_id = q.group_id AND m.sent_at >= q.sent_at AND m.sent_at <= q.cap_at
    WHERE m.sent_at >= $slice_start AND m.sent_at < $reply_end
      AND {_SPEECH.replace("kind", "m.kind").replace("is_recalled", "m.is_recalled").replace(
          "sender_member_id", "m.sender_member_id")}
      AND m.sender_member_id <> q.sender AND (m.sent_at > q.sent_at OR m.message_id > q.message_id)
    GROUP BY q.message_id
), q AS (
    SELECT q.group_id, q.week_start, epoch(coalesce(q.reply_at, fix.reply_at)) - epoch(q.sent_at) AS wait_s
    FROM gv_questions q LEFT JOIN fix USING (message_id)
)
SELECT group_id, week_start, count(*) AS member_questions,
       count(*) FILTER (WHERE wait_s <= {REPLY_CAP_DAYS * 86400}) AS answered_questions,
       median(wait_s / 60.0) FILTER (WHERE wait_s <= {REPLY_CAP_DAYS * 86400}) AS median_first_response_minutes
FROM q GROUP BY group_id, week_start
"""

# Membership: collapse repeated events per member (join, join -> one join); a member whose first known event is a
# leave was there from the group's creation. Cumulative sum of deltas = members at the end of each event week.
_SQL_MEMBERS = """
CREATE OR REPLACE TEMP TABLE gv_member_weeks AS
WITH ev AS (
    SELECT group_id, member_id, event, event_at,
           lag(event) OVER (PARTITION BY group_id, member_id ORDER BY event_at, event) AS prev_event
    FROM staging.group_memberships WHERE event IN ('join', 'leave')
), kept AS (
    SELECT group_id, event, event_at, prev_event,
           CAST(date_trunc('week', timezone($tz, event_at)) AS DATE) AS week_start
    FROM ev WHERE prev_event IS DISTINCT FROM event
), deltas AS (
    SELECT group_id, week_start, CASE WHEN event = 'join' THEN 1 ELSE -1 END AS delta,
           event = 'join' AS is_join, event = 'leave' AS is_leave
    FROM kept
    UNION ALL
    SELECT k.group_id, least(coalesce(g.created_week, k.week_start), k.week_start), 1, false, false
    FROM kept k LEFT JOIN gv_groups g USING (group_id)
    WHERE k.prev_event IS NULL AND k.event = 'leave'
)
SELECT group_id, week_start, count(*) FILTER (WHERE is_join) AS joins, count(*) FILTER (WHERE is_leave) AS leaves,
       sum(sum(delta)) OVER (PARTITION BY group_id ORDER BY week_start) AS members_cum
FROM deltas GROUP BY group_id, week_start
"""

_SQL_ORDER_WEEK = """
CREATE OR REPLACE TEMP TABLE gv_order_week AS
SELECT o.group_id, {week} AS week_start,
       count(DISTINCT o.member_id) AS buyers, count(*) AS orders, sum(o.net_amount) AS gmv,
       -- the owner's or staff's own purchases do not keep a group alive (as their messages do not)
       max(o.paid_at) FILTER (WHERE o.member_id IS DISTINCT FROM g.owner_member_id
                                AND NOT coalesce(mb.is_staff, false)) AS last_order_at,
       count(*) FILTER (WHERE o.member_id IS DISTINCT FROM g.owner_member_id
                          AND NOT coalesce(mb.is_staff, false)) AS member_orders
FROM gv_orders o
LEFT JOIN gv_groups g USING (group_id)
LEFT JOIN staging.members mb ON mb.member_id = o.member_id
WHERE o.paid_at >= $slice_start AND o.paid_at < $window_end
GROUP BY ALL
"""

_SQL_GRID = """
CREATE OR REPLACE TEMP TABLE gv_grid AS
WITH w AS (
    SELECT g.group_id, g.owner_member_id, g.created_at, g.created_week,
           unnest(generate_series(CAST(greatest(g.created_week, $slice_ws) AS TIMESTAMP),
                                  CAST(least($as_of_week, $we - 7) AS TIMESTAMP), INTERVAL 7 DAY)) AS wk
    FROM gv_groups g
)
SELECT group_id, owner_member_id, created_at, created_week, CAST(wk AS DATE) AS week_start,
       timezone($tz, wk) AS week_start_at,
       least(timezone($tz, wk + INTERVAL 7 DAY), $as_of) AS eval_at
FROM w
"""

# Member activity (member speech or attributed order) before the group's first grid week: before the slice (one cheap
# aggregate over older messages and orders) or inside the slice but before the group's creation week.
_SQL_PRE = f"""
CREATE OR REPLACE TEMP TABLE gv_pre AS
WITH older AS (
    SELECT group_id, sender_member_id, is_owner, is_staff, max(sent_at) AS last_at, count(*) AS n
    FROM staging.messages WHERE sent_at < $slice_start AND {_SPEECH}
    GROUP BY ALL
), acts AS (
    SELECT o.group_id, o.last_at AS t, o.n
    FROM older o
    LEFT JOIN gv_groups g USING (group_id)
    LEFT JOIN staging.members mb ON mb.member_id = o.sender_member_id
    WHERE {_ROLE.format(m="o")} = 'member'
    UNION ALL
    SELECT o.group_id, max(o.paid_at), count(*)
    FROM gv_orders o
    LEFT JOIN gv_groups g USING (group_id)
    LEFT JOIN staging.members mb ON mb.member_id = o.member_id
    WHERE o.paid_at < $slice_start AND o.member_id IS DISTINCT FROM g.owner_member_id
      AND NOT coalesce(mb.is_staff, false)
    GROUP BY o.group_id
    UNION ALL
    SELECT s.group_id, s.member_last_at, s.member_n FROM gv_senders s JOIN gv_groups g USING (group_id)
    WHERE s.member_n > 0 AND s.week_start < g.created_week
    UNION ALL
    SELECT o.group_id, o.last_order_at, o.member_orders FROM gv_order_week o JOIN gv_groups g USING (group_id)
    WHERE o.week_start < g.created_week
)
SELECT group_id, max(t) AS pre_last, sum(n) AS pre_acts FROM acts GROUP BY group_id
"""

_CURVE = ("CREATE OR REPLACE TEMP MACRO gv_curve(r) AS CASE WHEN r IS NULL THEN NULL WHEN r <= 0 THEN 0.0 "
          "WHEN r <= 1 THEN 80.0 * r ELSE 80.0 + 20.0 * (1 - exp(-(r - 1))) END")

_SQL_RESULT = """
CREATE OR REPLACE TEMP TABLE gv_result AS
WITH base AS (
    SELECT gr.group_id, gr.week_start, gr.owner_member_id, gr.created_at, gr.eval_at,
           (epoch(gr.eval_at) - epoch(greatest(gr.week_start_at, gr.created_at))) / 86400.0 AS observed_days,
           gr.week_start = gr.created_week AS first_week,
           CAST(coalesce(mc.members_cum, 0) AS INTEGER) AS members_end,
           CAST(coalesce(mw.joins, 0) AS INTEGER) AS joins,
           CAST(coalesce(mw.leaves, 0) AS INTEGER) AS leaves,
           CAST(coalesce(ms.messages, 0) AS INTEGER) AS messages,
           CAST(coalesce(ms.member_messages, 0) AS INTEGER) AS member_messages,
           CAST(coalesce(ms.owner_messages, 0) AS INTEGER) AS owner_messages,
           CAST(coalesce(ms.senders, 0) AS INTEGER) AS senders,
           CAST(coalesce(ms.speakers, 0) AS INTEGER) AS speakers,
           CAST(coalesce(ms.owner_dependence, 0) AS INTEGER) AS owner_dependence,
           CAST(coalesce(rp.member_questions, 0) AS INTEGER) AS member_questions,
           CAST(coalesce(rp.answered_questions, 0) AS INTEGER) AS answered_questions,
           rp.median_first_response_minutes,
           CAST(coalesce(ow.buyers, 0) AS INTEGER) AS buyers,
           CAST(coalesce(ow.orders, 0) AS INTEGER) AS orders,
           CAST(coalesce(ow.gmv, 0) AS DECIMAL(18,2)) AS gmv,
           greatest(pr.pre_last, max(greatest(ms.last_member_msg_at, ow.last_order_at)) OVER (
               PARTITION BY gr.group_id ORDER BY gr.week_start ROWS UNBOUNDED PRECEDING)) AS last_member_activity_at,
           coalesce(pr.pre_acts, 0) + sum(coalesce(ms.member_messages, 0) + coalesce(ow.member_orders, 0)) OVER (
               PARTITION BY gr.group_id ORDER BY gr.week_start ROWS UNBOUNDED PRECEDING) AS member_acts_total
    FROM gv_grid gr
    ASOF LEFT JOIN gv_member_weeks mc ON mc.group_id = gr.group_id AND mc.week_start <= gr.week_start
    LEFT JOIN gv_member_weeks mw ON mw.group_id = gr.group_id AND mw.week_start = gr.week_start
    LEFT JOIN gv_msg_week ms ON ms.group_id = gr.group_id AND ms.week_start = gr.week_start
    LEFT JOIN gv_response rp ON rp.group_id = gr.group_id AND rp.week_start = gr.week_start
    LEFT JOIN gv_order_week ow ON ow.group_id = gr.group_id AND ow.week_start = gr.week_start
    LEFT JOIN gv_pre pr ON pr.group_id = gr.group_id
), ratios AS (
    SELECT *, joins - leaves AS net_growth,
           -- days from creation to the last member activity (plain epoch arithmetic throughout: subtracting two
           -- TIMESTAMPTZ values is a slow calendar operation)
           (epoch(last_member_activity_at) - epoch(created_at)) / 86400.0 AS active_days,
           CASE WHEN members_end - (joins - leaves) > 0
                THEN (joins - leaves) / (members_end - (joins - leaves)) END AS growth_rate,
           speakers / nullif(members_end, 0) AS speak_rate,
           member_messages / nullif(speakers, 0) AS messages_per_speaker,
           -- per member present all week (members at week start; at week end in the group's first week), per
           -- full week: a group created mid-week, or the week still running, is scaled up (at least 1 day)
           member_messages / nullif(CASE WHEN first_week THEN members_end
                                         ELSE greatest(members_end - (joins - leaves), 0) END, 0)
               * 7 / greatest(observed_days, 1) AS messages_per_member,
           owner_messages / nullif(messages, 0) AS owner_share,
           buyers / nullif(members_end, 0) AS conversion,
           CAST(gmv AS DOUBLE) / nullif(members_end, 0) AS gmv_per_member,
           CAST(floor((epoch(eval_at) - epoch(created_at)) / 86400) AS INTEGER) AS group_age_days,
           (epoch(eval_at) - epoch(coalesce(last_member_activity_at, created_at))) / 86400.0 AS silence_days,
           -- member messages + orders the group would have had during its silence at its usual pace (total member
           -- activity over the days from creation to the last activity, at least 7)
           member_acts_total * ((epoch(eval_at) - epoch(last_member_activity_at)) / 86400.0)
               / greatest(active_days, 7) AS silence_expected_activity,
           -- the group's usual wait between member acts at that pace, at most zombie_date_max_gap_days: a zombie died
           -- after its last act, when its next act was due (for acts at a steady rate λ that stop at time T, the
           -- last act comes on average 1/λ before T)
           least(greatest(active_days, 7) / nullif(member_acts_total, 0),
                 $zombie_date_max_gap) AS usual_gap_days,
           (epoch(eval_at) - epoch(created_at)) / 86400.0 AS age_exact
    FROM base
), scored AS (
    SELECT *,
           gv_curve(speak_rate / $target_speak_rate) AS score_speak_rate,
           gv_curve(messages_per_member / $target_msgs_per_member) AS score_activity,
           gv_curve(conversion / $target_conversion) AS score_conversion,
           gv_curve((growth_rate / $target_net_growth + 1) / 2) AS score_growth,
           gv_curve($target_first_response_minutes / CASE WHEN median_first_response_minutes IS NOT NULL
                                     THEN greatest(median_first_response_minutes, 1e-9) END)
               AS score_response
    FROM ratios
), total AS (
    SELECT *,
           coalesce((coalesce($w_speak * score_speak_rate, 0) + coalesce($w_activity * score_activity, 0)
                     + coalesce($w_conversion * score_conversion, 0) + coalesce($w_response * score_response, 0)
                     + coalesce($w_growth * score_growth, 0))
                    / nullif(CASE WHEN score_speak_rate IS NULL THEN 0 ELSE $w_speak END
                             + CASE WHEN score_activity IS NULL THEN 0 ELSE $w_activity END
                             + CASE WHEN score_conversion IS NULL THEN 0 ELSE $w_conversion END
                             + CASE WHEN score_response IS NULL THEN 0 ELSE $w_response END
                             + CASE WHEN score_growth IS NULL THEN 0 ELSE $w_growth END, 0), 0.0) AS vitality_score
    FROM scored
), trend AS (
    SELECT *,
           avg(vitality_score) OVER (PARTITION BY group_id ORDER BY week_start
                                     ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS score_4w_avg
    FROM total
), states AS (
    SELECT *,
           lag(score_4w_avg, 4) OVER (PARTITION BY group_id ORDER BY week_start) AS score_4w_avg_prev,
           -- a zombie's members *stopped*: never any member activity = never came alive, not dead; and the silence
           -- must be unusual for this group (a tiny group that talks once a month is quiet, not dead)
           age_exact >= $new_days AND silence_days >= $zombie_days
               AND last_member_activity_at IS NOT NULL
               AND silence_expected_activity >= $zombie_min_expected AS is_zombie
    FROM trend
), life AS (
    SELECT *,
           CASE WHEN age_exact < $new_days THEN 'new'
                WHEN is_zombie THEN 'zombie'
                WHEN silence_days >= $dormant_days THEN 'dormant'
                WHEN score_4w_avg_prev > 0 AND score_4w_avg <= (1 - $declining_drop) * score_4w_avg_prev
                    THEN 'declining'
                ELSE 'active' END AS lifecycle_state
    FROM states
)
SELECT group_id, week_start, owner_member_id, created_at AS group_created_at, group_age_days, observed_days,
       members_end, joins, leaves, net_growth, growth_rate, messages, member_messages, owner_messages, senders,
       speakers, speak_rate, messages_per_speaker, messages_per_member, owner_share, owner_dependence,
       member_questions, answered_questions, median_first_response_minutes, buyers, orders, gmv, conversion,
       gmv_per_member, score_speak_rate, score_activity, score_conversion, score_growth, score_response,
       vitality_score, score_4w_avg, score_4w_avg_prev, last_member_activity_at, silence_days,
       silence_expected_activity, lifecycle_state,
       lag(lifecycle_state) OVER (PARTITION BY group_id ORDER BY week_start) AS prev_lifecycle_state,
       is_zombie,
       CASE WHEN is_zombie THEN CAST(timezone($tz, last_member_activity_at
                                            + to_seconds(round(coalesce(usual_gap_days, 0) * 86400))) AS DATE)
            END AS zombie_since
FROM life
"""

_TEMP = ("gv_groups", "gv_senders", "gv_msg_week", "gv_questions", "gv_response", "gv_member_weeks", "gv_order_week", "gv_grid",
         "gv_pre", "gv_result")


# DuckDB working memory while this mart builds; beyond it DuckDB spills to disk (keeps the process ≤ 4 GiB at L).
MEMORY_LIMIT = "2.5GB"


def build_weekly(
    conn: duckdb.DuckDBPyConnection,
    thresholds: Thresholds,
    tz: str = "Asia/Shanghai",
    week_from: dt.date | None = None,
    week_to: dt.date | None = None,
    max_memory: str | None = MEMORY_LIMIT,
) -> BuildResult:
    """(Re)build marts.group_vitality_weekly for weeks in [week_from, week_to) (Mondays; None = full history).

    Only rows of the window are deleted and re-inserted, in one transaction."""
    with memory_limit(conn, max_memory):
        return _build_weekly(conn, thresholds, tz, week_from, week_to)


def _build_weekly(conn, thresholds, tz, week_from, week_to) -> BuildResult:
    ensure_tables(conn)
    first_week, as_of = data_bounds(conn, tz)
    full = week_from is None and week_to is None
    if as_of is None:
        ws, we = week_from, week_to
    else:
        as_of_week = monday(as_of.astimezone(ZoneInfo(tz)).date())
        ws = monday(week_from) if week_from else first_week
        we = monday(week_to) if week_to else as_of_week + dt.timedelta(days=7)
    if as_of is not None and ws < we:
        zone = ZoneInfo(tz)
        slice_ws = ws - dt.timedelta(weeks=LOOKBACK_WEEKS)
        at = dt.time(0, 0)
        params = {
            "tz": tz,
            "slice_ws": slice_ws,
            "we": we,
            "as_of": as_of,
            "as_of_week": as_of_week,
            "slice_start": dt.datetime.combine(slice_ws, at, zone),
            "window_end": dt.datetime.combine(we, at, zone),
            "reply_end": dt.datetime.combine(we, at, zone) + dt.timedelta(days=REPLY_CAP_DAYS),
        }
        score_params = {
            "target_speak_rate": thresholds.target_speak_rate,
            "target_msgs_per_member": thresholds.target_msgs_per_member,
            "target_conversion": thresholds.target_conversion,
            "target_net_growth": thresholds.target_net_growth,
            "target_first_response_minutes": thresholds.target_first_response_minutes,
            "w_speak": WEIGHTS["score_speak_rate"],
            "w_activity": WEIGHTS["score_activity"],
            "w_conversion": WEIGHTS["score_conversion"],
            "w_response": WEIGHTS["score_response"],
            "w_growth": WEIGHTS["score_growth"],
            "new_days": float(thresholds.group_new_days),
            "zombie_days": float(thresholds.zombie_silence_days),
            "zombie_min_expected": float(thresholds.zombie_min_expected_activity),
            "dormant_days": float(DORMANT_DAYS),
            "zombie_date_max_gap": float(thresholds.zombie_date_max_gap_days),
            "declining_drop": thresholds.declining_drop,
            "tz": tz,
        }
        _run(conn, _SQL_GROUPS, params, "tz")
        # the messages statements bucket millions of rows by local week: plain arithmetic when the offset is fixed
        offset = fixed_utc_offset(tz, slice_ws, we + dt.timedelta(weeks=2))
        params["tz_offset"] = offset
        week_param = "tz_offset" if offset is not None else "tz"
        _run(conn, _week_sql(_SQL_SENDERS, "sent_at", offset), params, week_param, "slice_start", "window_end")
        _run(conn, _SQL_MSG_WEEK, params)
        _run(conn, _week_sql(_SQL_QUESTIONS, "sp.sent_at", offset), params, week_param, "slice_start", "reply_end",
             "window_end")
        _run(conn, _SQL_RESPONSE, params, "slice_start", "reply_end")
        _run(conn, _SQL_MEMBERS, params, "tz")
        _run(conn, _week_sql(_SQL_ORDER_WEEK, "o.paid_at", offset), params, week_param, "slice_start", "window_end")
        _run(conn, _SQL_GRID, params, "tz", "slice_ws", "as_of_week", "we", "as_of")
        _run(conn, _SQL_PRE, params, "slice_start")
        conn.execute(_CURVE)
        conn.execute(_SQL_RESULT, score_params)
    else:
        conn.execute("CREATE OR REPLACE TEMP TABLE gv_result AS SELECT * FROM marts.group_vitality_weekly LIMIT 0")
    with transaction(conn):
        if full:
            deleted = conn.execute("SELECT count(*) FROM marts.group_vitality_weekly").fetchone()[0]
            conn.execute("DELETE FROM marts.group_vitality_weekly")
            ws_ins, we_ins = dt.date(1, 1, 1), dt.date(9999, 1, 1)
        else:
            ws_ins, we_ins = ws, we
            deleted = conn.execute(
                "SELECT count(*) FROM marts.group_vitality_weekly WHERE week_start >= ? AND week_start < ?",
                [ws_ins, we_ins]).fetchone()[0]
            conn.execute("DELETE FROM marts.group_vitality_weekly WHERE week_start >= ? AND week_start < ?",
                         [ws_ins, we_ins])
        conn.execute("INSERT INTO marts.group_vitality_weekly BY NAME SELECT * FROM gv_result "
                     "WHERE week_start >= ? AND week_start < ?", [ws_ins, we_ins])
        inserted = conn.execute("SELECT count(*) FROM gv_result WHERE week_start >= ? AND week_start < ?",
                                [ws_ins, we_ins]).fetchone()[0]
    for t in _TEMP:
        conn.execute(f"DROP TABLE IF EXISTS {t}")
    return BuildResult(int(deleted), int(inserted), ws, we, as_of)


def _run(conn: duckdb.DuckDBPyConnection, sql: str, params: dict, *names: str) -> None:
    conn.execute(sql, {k: params[k] for k in names})


_WEEK_TZ = "CAST(date_trunc('week', timezone($tz, {col})) AS DATE)"
# 1970-01-05 was a Monday (345,600 s after the epoch); one week = 604,800 s.
_WEEK_FIXED = "(DATE '1970-01-05' + 7 * CAST(floor((epoch({col}) + $tz_offset - 345600) / 604800) AS INTEGER))"


def fixed_utc_offset(tz: str, first: dt.date, last: dt.date) -> int | None:
    """The zone's UTC offset in seconds if it is the same at every Monday 00:00 from ``first`` to ``last`` (then
    the local week of an instant is plain arithmetic, much cheaper than a time-zone conversion per message)."""
    zone = ZoneInfo(tz)
    offsets = {dt.datetime.combine(first + dt.timedelta(weeks=k), dt.time(0, 0), zone).utcoffset()
               for k in range((last - first).days // 7 + 1)}
    if len(offsets) != 1:
        return None
    return int(offsets.pop().total_seconds())


def _week_sql(sql: str, col: str, offset: int | None) -> str:
    return sql.replace("{week}", (_WEEK_FIXED if offset is not None else _WEEK_TZ).format(col=col))


def _window_clause(week_from: dt.date | None, week_to: dt.date | None) -> tuple[dt.date, dt.date]:
    return (monday(week_from) if week_from else dt.date(1, 1, 1), monday(week_to) if week_to else dt.date(9999, 1, 1))


_SQL_BRAND = """
SELECT v.week_start,
       CAST(count(*) AS INTEGER) AS chat_total,
       CAST(count(*) FILTER (WHERE v.messages > 0) AS INTEGER) AS chat_has_msg,
       CAST(count(*) FILTER (WHERE CAST(date_trunc('week', timezone($tz, v.group_created_at)) AS DATE) = v.week_start)
            AS INTEGER) AS new_chat_cnt,
       CAST(sum(v.members_end) AS INTEGER) AS member_total,
       CAST(sum(v.senders) AS INTEGER) AS member_has_msg,
       CAST(sum(v.messages) AS INTEGER) AS msg_total,
       CAST(sum(v.joins) AS INTEGER) AS new_member_cnt,
       CAST(sum(v.speakers) AS INTEGER) AS speakers,
       CAST(sum(v.buyers) AS INTEGER) AS buyers,
       CAST(sum(v.gmv) AS DECIMAL(18,2)) AS gmv,
       CAST(count(*) FILTER (WHERE v.lifecycle_state IN ('new', 'active')) AS INTEGER) AS active_groups,
       CAST(count(*) FILTER (WHERE v.lifecycle_state = 'declining') AS INTEGER) AS declining_groups,
       CAST(count(*) FILTER (WHERE v.lifecycle_state = 'dormant') AS INTEGER) AS dormant_groups,
       CAST(count(*) FILTER (WHERE v.lifecycle_state = 'zombie') AS INTEGER) AS zombie_groups,
       avg(v.vitality_score) FILTER (WHERE NOT v.is_zombie) AS avg_vitality_score
FROM marts.group_vitality_weekly v
WHERE v.week_start >= $ws AND v.week_start < $we
GROUP BY v.week_start
"""


def build_brand_weekly(conn: duckdb.DuckDBPyConnection, tz: str = "Asia/Shanghai",
                       week_from: dt.date | None = None, week_to: dt.date | None = None) -> int:
    """Replace marts.group_brand_weekly rows for weeks in [week_from, week_to) from the group table."""
    ensure_tables(conn)
    ws, we = _window_clause(week_from, week_to)
    with transaction(conn):
        conn.execute("DELETE FROM marts.group_brand_weekly WHERE week_start >= ? AND week_start < ?", [ws, we])
        conn.execute("INSERT INTO marts.group_brand_weekly BY NAME " + _SQL_BRAND, {"tz": tz, "ws": ws, "we": we})
    return int(conn.execute("SELECT count(*) FROM marts.group_brand_weekly WHERE week_start >= ? AND week_start < ?",
                            [ws, we]).fetchone()[0])


_SQL_ALERTS = """
SELECT week_start, group_id, owner_member_id, lifecycle_state AS alert_type, prev_lifecycle_state,
       vitality_score, score_4w_avg, score_4w_avg_prev, silence_days, zombie_since, members_end,
       CASE WHEN lifecycle_state = 'zombie' THEN
                format('最后一次成员发言或成交在 {}，此后除群主/员工外无人发言、无成交，已沉寂 {} 天（群成员 {} 人）；'
                       '估计 {} 起成为僵尸群',
                       strftime(timezone($tz, last_member_activity_at), '%Y-%m-%d'),
                       CAST(floor(silence_days) AS BIGINT), members_end, strftime(zombie_since, '%Y-%m-%d'))
            ELSE format('近4周活力分从 {} 降至 {}（下降 {}%）；本周发言成员 {} 人、消息 {} 条、购买 {} 人',
                        CAST(round(score_4w_avg_prev) AS BIGINT), CAST(round(score_4w_avg) AS BIGINT),
                        CAST(round(100 * (1 - score_4w_avg / score_4w_avg_prev)) AS BIGINT),
                        speakers, messages, buyers) END AS reason_zh,
       CASE WHEN lifecycle_state = 'zombie' THEN
                format('Last member message or order on {}; since then no message from anyone but the owner/staff '
                       'and no order: silent for {} days ({} members). Zombie since about {}.',
                       strftime(timezone($tz, last_member_activity_at), '%Y-%m-%d'),
                       CAST(floor(silence_days) AS BIGINT), members_end, strftime(zombie_since, '%Y-%m-%d'))
            ELSE format('4-week vitality score fell from {} to {} (-{}%); this week {} speakers, {} messages, {} buyers.',
                        CAST(round(score_4w_avg_prev) AS BIGINT), CAST(round(score_4w_avg) AS BIGINT),
                        CAST(round(100 * (1 - score_4w_avg / score_4w_avg_prev)) AS BIGINT),
                        speakers, messages, buyers) END AS reason_en
FROM marts.group_vitality_weekly
WHERE week_start >= $ws AND week_start < $we
  AND lifecycle_state IN ('zombie', 'declining')
  AND lifecycle_state IS DISTINCT FROM prev_lifecycle_state
"""


def build_alerts(conn: duckdb.DuckDBPyConnection,
                 week_from: dt.date | None = None, week_to: dt.date | None = None, tz: str = "Asia/Shanghai") -> int:
    """Replace marts.group_alerts rows for weeks in [week_from, week_to): groups that entered zombie/declining."""
    ensure_tables(conn)
    ws, we = _window_clause(week_from, week_to)
    with transaction(conn):
        conn.execute("DELETE FROM marts.group_alerts WHERE week_start >= ? AND week_start < ?", [ws, we])
        conn.execute("INSERT INTO marts.group_alerts BY NAME " + _SQL_ALERTS, {"ws": ws, "we": we, "tz": tz})
    return int(conn.execute("SELECT count(*) FROM marts.group_alerts WHERE week_start >= ? AND week_start < ?",
                            [ws, we]).fetchone()[0])


def kaplan_meier(durations: np.ndarray, events: np.ndarray) -> pd.DataFrame:
    """Kaplan–Meier survival table: one row per distinct time (plus t=0), S(t) after that time's events."""
    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=bool)
    n = len(durations)
    times = np.unique(np.concatenate([[0.0], durations]))
    # groups with duration >= t are at risk just before t
    at_risk = n - np.searchsorted(np.sort(durations), times, side="left")
    ev = np.array([0] * len(times))
    ce = np.array([0] * len(times))
    idx = np.searchsorted(times, durations)
    np.add.at(ev, idx[events], 1)
    np.add.at(ce, idx[~events], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - ev / np.maximum(at_risk, 1), 1.0)
    survival = np.cumprod(factor)
    below = np.nonzero(survival <= 0.5)[0]
    median = float(times[below[0]]) if len(below) else None
    return pd.DataFrame({"t_days": times.astype(int), "at_risk": at_risk.astype(int), "events": ev.astype(int),
                         "censored": ce.astype(int), "survival": survival, "median_survival_days": median})


_SQL_SURVIVAL_INPUT = """
SELECT group_id,
       strftime(timezone($tz, any_value(group_created_at)), '%Y-%m') AS cohort,
       CAST(timezone($tz, any_value(group_created_at)) AS DATE) AS created_date,
       min(zombie_since) FILTER (WHERE is_zombie) AS first_zombie_since,
       max(group_age_days) AS observed_days
FROM marts.group_vitality_weekly
GROUP BY group_id
"""


def build_survival(conn: duckdb.DuckDBPyConnection, tz: str = "Asia/Shanghai") -> int:
    """Rebuild marts.group_survival: KM time from creation to (first) zombie date, per creation-month cohort."""
    ensure_tables(conn)
    df = conn.execute(_SQL_SURVIVAL_INPUT, {"tz": tz}).df()
    frames = []
    if len(df):
        event = df["first_zombie_since"].notna().to_numpy()
        zombie_days = (pd.to_datetime(df["first_zombie_since"]) - pd.to_datetime(df["created_date"])).dt.days
        duration = np.where(event, zombie_days.fillna(0).to_numpy(), df["observed_days"].to_numpy()).clip(min=0)
        df = df.assign(duration=duration, event=event)
        for cohort, part in [("all", df), *sorted(df.groupby("cohort"), key=lambda kv: kv[0])]:
            km = kaplan_meier(part["duration"].to_numpy(), part["event"].to_numpy())
            km.insert(0, "cohort_groups", len(part))
            km.insert(0, "cohort", cohort)
            frames.append(km)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["cohort", "cohort_groups", "t_days", "at_risk", "events", "censored", "survival",
                 "median_survival_days"])
    out["median_survival_days"] = out["median_survival_days"].astype("float64")
    conn.register("gv_survival_df", out)
    try:
        with transaction(conn):
            conn.execute("DELETE FROM marts.group_survival")
            conn.execute("INSERT INTO marts.group_survival BY NAME SELECT * FROM gv_survival_df")
    finally:
        conn.unregister("gv_survival_df")
    return len(out)
