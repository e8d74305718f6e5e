"""Weekly 大C contribution, concentration and alerts for a range of weeks [lo, hi) (Mondays, brand timezone).

Each builder deletes exactly the weeks of the range and inserts them again (callers wrap it in a transaction), so a
backfill of many weeks is one set-based pass and never touches other weeks. Inputs: marts.dacs,
marts.order_attribution, marts.referral_tree, staging (groups, memberships, messages, referrals) and
marts.member_lifetime (CLV columns, if present).
"""

from __future__ import annotations

from datetime import date

import duckdb

from assets.marts.dac_contribution.attribution import BRAND_DIRECT, FIRST_BINDING_SQL, MEMBERSHIP_SPANS_SQL
from assets.marts.dac_contribution.tables import table_exists
from assets.marts.dac_contribution.tree import data_as_of

# Local Monday of an instant; $tz is bound by every query below.
WEEK_OF = "date_trunc('week', timezone($tz, {ts}))::DATE"
# Retention windows (weeks): bought in weeks w-7..w-4, bought again in w-3..w.
RETENTION_PRIOR = (4, 7)
RETENTION_RECENT = (0, 3)
MAX_GENERATIONS = 100_000  # safety cap for the upward walk; trees are acyclic after referral_tree's cuts


def _w(ts: str) -> str:
    return WEEK_OF.format(ts=ts)


CONTRIBUTION_SQL = f"""
WITH weeks AS (
    SELECT ws::DATE AS week_start, timezone($tz, (ws::DATE + 7)::TIMESTAMP) AS week_end_ts
    FROM (SELECT unnest(generate_series($lo::TIMESTAMP, $hi::TIMESTAMP - INTERVAL 1 DAY, INTERVAL 7 DAY)) AS ws)
),
attr AS (
    SELECT order_id, member_id, week_start, net_amount, 'group' AS method, attributed_dac_group AS dac_id
    FROM marts.order_attribution
    UNION ALL
    SELECT order_id, member_id, week_start, net_amount, 'first_touch', attributed_dac_first_touch
    FROM marts.order_attribution
    UNION ALL
    SELECT order_id, member_id, week_start, net_amount, 'last_touch', attributed_dac_last_touch
    FROM marts.order_attribution
),
attr_w AS (
    SELECT dac_id, week_start,
           coalesce(sum(net_amount) FILTER (WHERE method = 'group'), 0) AS gmv_group,
           coalesce(sum(net_amount) FILTER (WHERE method = 'first_touch'), 0) AS gmv_first_touch,
           coalesce(sum(net_amount) FILTER (WHERE method = 'last_touch'), 0) AS gmv_last_touch,
           count(DISTINCT order_id) AS attributed_orders
    FROM attr
    WHERE dac_id <> '{BRAND_DIRECT}' AND week_start >= $lo AND week_start < $hi
    GROUP BY 1, 2
),
own_all AS (  -- own GMV per week, all history up to the range end (for the to-date running sum)
    SELECT o.member_id AS dac_id, o.week_start, sum(o.net_amount) AS own_gmv
    FROM marts.order_attribution o JOIN marts.dacs d ON d.dac_id = o.member_id
    WHERE o.week_start < $hi GROUP BY 1, 2
),
msgs AS (
    SELECT m.sender_member_id AS dac_id, {_w("m.sent_at")} AS week_start, count(*) AS messages_sent
    FROM staging.messages m JOIN marts.dacs d ON d.dac_id = m.sender_member_id
    WHERE NOT m.is_recalled AND m.sent_at >= timezone($tz, $lo::TIMESTAMP) AND m.sent_at < timezone($tz, $hi::TIMESTAMP)
    GROUP BY 1, 2
),
fb AS MATERIALIZED ({FIRST_BINDING_SQL}),
ref_orders AS (  -- GMV of direct referees per week, all history up to the range end
    SELECT fb.referrer_id AS dac_id, o.week_start, sum(o.net_amount) AS referral_value
    FROM marts.order_attribution o JOIN fb ON fb.member_id = o.member_id
    JOIN marts.dacs d ON d.dac_id = fb.referrer_id
    WHERE o.week_start < $hi GROUP BY 1, 2
),
new_refs AS (
    SELECT referrer_id AS dac_id, {_w("referred_at")} AS week_start, count(*) AS new_referrals
    FROM fb GROUP BY 1, 2
),
first_orders AS (
    SELECT member_id, min(week_start) AS week_start FROM marts.order_attribution GROUP BY 1
),
ref_first AS (
    SELECT fb.referrer_id AS dac_id, f.week_start, count(*) AS referee_first_orders
    FROM fb JOIN first_orders f USING (member_id) GROUP BY 1, 2
),
-- members served: in the 大C's groups at week end (first join .. last leave), or a direct referee
served AS (
    SELECT dac_id, member_id, min(from_ts) AS from_ts,
           CASE WHEN bool_or(to_ts IS NULL) THEN NULL ELSE max(to_ts) END AS to_ts
    FROM (
        SELECT g.owner_member_id AS dac_id, s.member_id, s.join_at AS from_ts, s.leave_at AS to_ts
        FROM ({MEMBERSHIP_SPANS_SQL}) s JOIN staging.groups g USING (group_id)
        JOIN marts.dacs d ON d.dac_id = g.owner_member_id
        WHERE s.member_id <> g.owner_member_id
        UNION ALL
        SELECT fb.referrer_id, fb.member_id, fb.referred_at, NULL
        FROM fb JOIN marts.dacs d ON d.dac_id = fb.referrer_id
    ) GROUP BY 1, 2
),
served_w AS MATERIALIZED (  -- counted for weeks [week_of(from), week_of(to)) i.e. present at those weeks' ends
    SELECT dac_id, member_id, {_w("from_ts")} AS w_from,
           CASE WHEN to_ts IS NULL THEN DATE '9999-12-27' ELSE {_w("to_ts")} END AS w_to
    FROM served
),
served_delta AS (
    SELECT dac_id, week_start, sum(d) AS d FROM (
        SELECT dac_id, greatest(w_from, $lo::DATE) AS week_start, 1 AS d FROM served_w
        WHERE w_from < $hi AND w_to > greatest(w_from, $lo::DATE)
        UNION ALL
        SELECT dac_id, w_to, -1 FROM served_w
        WHERE w_to > greatest(w_from, $lo::DATE) AND w_to < $hi
    ) GROUP BY 1, 2
),
member_weeks AS MATERIALIZED (  -- (member, week) with a paid order or a message: "active"
    SELECT DISTINCT member_id, week_start FROM marts.order_attribution WHERE week_start >= $lo AND week_start < $hi
    UNION
    SELECT DISTINCT sender_member_id, {_w("sent_at")} FROM staging.messages
    WHERE sender_member_id IS NOT NULL AND NOT is_recalled
      AND sent_at >= timezone($tz, $lo::TIMESTAMP) AND sent_at < timezone($tz, $hi::TIMESTAMP)
),
active_w AS (
    SELECT s.dac_id, a.week_start, count(*) AS active_members
    FROM member_weeks a JOIN served_w s ON s.member_id = a.member_id
     AND a.week_start >= s.w_from AND a.week_start < s.w_to
    GROUP BY 1, 2
),
buy_weeks AS (SELECT DISTINCT member_id, week_start FROM marts.order_attribution
               WHERE week_start >= $lo::DATE - 7 * 7 AND week_start < $hi),
ret_base AS MATERIALIZED (  -- (member, w): bought in w-7..w-4 → candidate; retained if bought in w-3..w
    SELECT member_id, w, bool_or(recent) AS retained FROM (
        SELECT member_id, (week_start + (7 * k)::INTEGER) AS w, k BETWEEN {RETENTION_RECENT[0]} AND {RETENTION_RECENT[1]} AS recent
        FROM buy_weeks, range({RETENTION_RECENT[0]}, {RETENTION_PRIOR[1]} + 1) t(k)
    )
    WHERE w >= $lo AND w < $hi
    GROUP BY 1, 2
    HAVING bool_or(NOT recent)
),
brand_ret AS (SELECT w AS week_start, avg(retained::INTEGER) AS brand_retention FROM ret_base GROUP BY 1),
dac_ret AS (
    SELECT s.dac_id, r.w AS week_start, avg(r.retained::INTEGER) AS member_retention
    FROM ret_base r JOIN served_w s ON s.member_id = r.member_id AND r.w >= s.w_from AND r.w < s.w_to
    GROUP BY 1, 2
),
promoted AS (SELECT dac_id AS member_id, date_trunc('week', dac_since)::DATE AS week_start FROM marts.dacs
             WHERE dac_since >= $lo AND dac_since < $hi),
up AS (  -- walk up the referral tree from each newly promoted member (tree is acyclic; capped for safety)
    WITH RECURSIVE walk(member_id, ancestor, week_start, steps) AS (
        SELECT p.member_id, t.parent_id, p.week_start, 1
        FROM promoted p JOIN marts.referral_tree t ON t.member_id = p.member_id WHERE t.parent_id IS NOT NULL
        UNION ALL
        SELECT w.member_id, t.parent_id, w.week_start, w.steps + 1
        FROM walk w JOIN marts.referral_tree t ON t.member_id = w.ancestor
        WHERE t.parent_id IS NOT NULL AND w.steps < {MAX_GENERATIONS}
    )
    SELECT ancestor AS dac_id, week_start, count(DISTINCT member_id) AS promotions FROM walk GROUP BY 1, 2
),
groups_w AS (
    SELECT g.owner_member_id AS dac_id, w.week_start, count(*) AS groups_owned
    FROM staging.groups g JOIN weeks w
      ON coalesce(g.created_at, g.first_event_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') < w.week_end_ts
    WHERE g.owner_member_id IS NOT NULL GROUP BY 1, 2
),
grid AS (
    SELECT d.dac_id, w.week_start, (d.dac_since IS NULL OR d.dac_since <= w.week_start + 6) AS is_dac_this_week
    FROM marts.dacs d CROSS JOIN weeks w
),
cum AS MATERIALIZED (  -- running sums need every week since the first one, also those before the range
    SELECT dac_id, week_start,
           sum(own_gmv) OVER (PARTITION BY dac_id ORDER BY week_start) AS own_gmv_to_date,
           sum(referral_value) OVER (PARTITION BY dac_id ORDER BY week_start) AS referral_value_to_date,
           own_gmv, referral_value
    FROM (
        SELECT coalesce(o.dac_id, r.dac_id) AS dac_id, coalesce(o.week_start, r.week_start) AS week_start,
               coalesce(o.own_gmv, 0) AS own_gmv, coalesce(r.referral_value, 0) AS referral_value
        FROM own_all o FULL OUTER JOIN ref_orders r ON r.dac_id = o.dac_id AND r.week_start = o.week_start
    )
),
rows AS (
    SELECT g.week_start, g.dac_id, g.is_dac_this_week,
           coalesce(c.own_gmv, 0) AS own_gmv,
           coalesce(a.gmv_group, 0) AS gmv_group, coalesce(a.gmv_first_touch, 0) AS gmv_first_touch,
           coalesce(a.gmv_last_touch, 0) AS gmv_last_touch,
           coalesce(a.attributed_orders, 0) AS attributed_orders,
           coalesce(m.messages_sent, 0) AS messages_sent,
           coalesce(gw.groups_owned, 0) AS groups_owned,
           coalesce(sum(coalesce(sd.d, 0)) OVER (PARTITION BY g.dac_id ORDER BY g.week_start), 0) AS members_served,
           coalesce(aw.active_members, 0) AS active_members,
           coalesce(nr.new_referrals, 0) AS new_referrals,
           coalesce(rf.referee_first_orders, 0) AS referee_first_orders,
           dr.member_retention, br.brand_retention,
           coalesce(u.promotions, 0) AS promotions,
           coalesce(c.referral_value, 0) AS referral_value,
           coalesce(c.referral_value_to_date, last_c.referral_value_to_date, 0) AS referral_value_to_date,
           coalesce(c.own_gmv_to_date, last_c.own_gmv_to_date, 0) AS own_gmv_to_date
    FROM grid g
    LEFT JOIN attr_w a ON a.dac_id = g.dac_id AND a.week_start = g.week_start
    LEFT JOIN cum c ON c.dac_id = g.dac_id AND c.week_start = g.week_start
    ASOF LEFT JOIN cum last_c ON last_c.dac_id = g.dac_id AND last_c.week_start <= g.week_start
    LEFT JOIN msgs m ON m.dac_id = g.dac_id AND m.week_start = g.week_start
    LEFT JOIN groups_w gw ON gw.dac_id = g.dac_id AND gw.week_start = g.week_start
    LEFT JOIN served_delta sd ON sd.dac_id = g.dac_id AND sd.week_start = g.week_start
    LEFT JOIN active_w aw ON aw.dac_id = g.dac_id AND aw.week_start = g.week_start
    LEFT JOIN new_refs nr ON nr.dac_id = g.dac_id AND nr.week_start = g.week_start
    LEFT JOIN ref_first rf ON rf.dac_id = g.dac_id AND rf.week_start = g.week_start
    LEFT JOIN dac_ret dr ON dr.dac_id = g.dac_id AND dr.week_start = g.week_start
    LEFT JOIN brand_ret br ON br.week_start = g.week_start
    LEFT JOIN up u ON u.dac_id = g.dac_id AND u.week_start = g.week_start
),
kept AS (
    SELECT *, ((gmv_group + gmv_first_touch + gmv_last_touch) / 3)::DECIMAL(18,2) AS gmv_attributed_avg
    FROM rows
    WHERE is_dac_this_week OR attributed_orders > 0 OR own_gmv <> 0
),
medians AS (
    SELECT week_start, median(own_gmv_to_date) AS med_own, median(referral_value_to_date) AS med_ref
    FROM kept GROUP BY 1
)
SELECT k.week_start, k.dac_id, k.is_dac_this_week, k.own_gmv, k.gmv_group, k.gmv_first_touch, k.gmv_last_touch,
       k.gmv_attributed_avg, k.attributed_orders, k.messages_sent,
       (k.messages_sent > 0 OR k.attributed_orders > 0) AS is_active,
       k.groups_owned, k.members_served, k.active_members, k.new_referrals, k.referee_first_orders,
       k.member_retention, k.brand_retention, k.member_retention - k.brand_retention,
       k.promotions, k.referral_value, k.referral_value_to_date, k.own_gmv_to_date,
       ml.historic_clv, ml.predicted_clv_12m,
       CASE
           WHEN k.own_gmv_to_date > 0 AND k.own_gmv_to_date >= md.med_own
                AND k.referral_value_to_date > 0 AND k.referral_value_to_date >= md.med_ref THEN 'Champions'
           WHEN k.own_gmv_to_date > 0 AND k.own_gmv_to_date >= md.med_own THEN 'Affluents'
           WHEN k.referral_value_to_date > 0 AND k.referral_value_to_date >= md.med_ref THEN 'Advocates'
           ELSE 'Misers'
       END,
       row_number() OVER (PARTITION BY k.week_start ORDER BY k.gmv_attributed_avg DESC, k.own_gmv DESC, k.dac_id)
FROM kept k
JOIN medians md USING (week_start)
LEFT JOIN ({{clv_sql}}) ml ON ml.member_id = k.dac_id
"""


def _clv_sql(conn: duckdb.DuckDBPyConnection) -> str:
    if table_exists(conn, "marts", "member_lifetime"):
        return "SELECT member_id, historic_clv, predicted_clv_12m FROM marts.member_lifetime"
    return "SELECT NULL::VARCHAR AS member_id, NULL::DECIMAL(18,2) AS historic_clv, NULL::DECIMAL(18,2) AS predicted_clv_12m WHERE FALSE"


def build_contribution_weekly(conn: duckdb.DuckDBPyConnection, lo: date, hi: date, timezone: str) -> int:
    """Rewrite marts.dac_contribution_weekly for the weeks lo ≤ week_start < hi."""
    params = {"lo": lo, "hi": hi, "tz": timezone}
    conn.execute(
        "DELETE FROM marts.dac_contribution_weekly WHERE week_start >= $lo AND week_start < $hi",
        {"lo": lo, "hi": hi},
    )
    conn.execute(
        "INSERT INTO marts.dac_contribution_weekly " + CONTRIBUTION_SQL.replace("{clv_sql}", _clv_sql(conn)),
        params,
    )
    return conn.execute(
        "SELECT count(*) FROM marts.dac_contribution_weekly WHERE week_start >= $lo AND week_start < $hi",
        {"lo": lo, "hi": hi},
    ).fetchone()[0]


CONCENTRATION_SQL = f"""
WITH v AS (  -- one value per 大C row, week and method (zeros included: a silent 大C is part of the spread)
    SELECT week_start, dac_id, 'group' AS method, gmv_group::DOUBLE AS x FROM marts.dac_contribution_weekly
    WHERE week_start >= $lo AND week_start < $hi
    UNION ALL SELECT week_start, dac_id, 'first_touch', gmv_first_touch::DOUBLE FROM marts.dac_contribution_weekly
    WHERE week_start >= $lo AND week_start < $hi
    UNION ALL SELECT week_start, dac_id, 'last_touch', gmv_last_touch::DOUBLE FROM marts.dac_contribution_weekly
    WHERE week_start >= $lo AND week_start < $hi
    UNION ALL SELECT week_start, dac_id, 'average', gmv_attributed_avg::DOUBLE FROM marts.dac_contribution_weekly
    WHERE week_start >= $lo AND week_start < $hi
),
ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY week_start, method ORDER BY x, dac_id) AS i_asc,
           row_number() OVER (PARTITION BY week_start, method ORDER BY x DESC, dac_id) AS i_desc,
           sum(x) OVER (PARTITION BY week_start, method ORDER BY x DESC, dac_id) AS cum_desc,
           count(*) OVER (PARTITION BY week_start, method) AS n,
           sum(x) OVER (PARTITION BY week_start, method) AS total
    FROM v
),
agg AS (
    SELECT week_start, method, max(n) AS dacs, max(total) AS dac_gmv,
           -- Gini = 2·Σ i·x_(i) / (n·Σx) − (n+1)/n with x ascending
           CASE WHEN max(total) > 0 THEN 2 * sum(i_asc * x) / (max(n) * max(total)) - (max(n) + 1) / max(n) END AS gini,
           CASE WHEN max(total) > 0 THEN min(i_desc) FILTER (WHERE cum_desc >= 0.5 * total) END AS dacs_for_half_gmv,
           CASE WHEN max(total) > 0 THEN sum(x) FILTER (WHERE i_desc <= ceil(0.2 * n)) / max(total) END AS top20_share
    FROM ranked GROUP BY 1, 2
),
totals AS (
    SELECT week_start, sum(net_amount) AS total_gmv,
           sum(net_amount) FILTER (WHERE attributed_dac_group = '{BRAND_DIRECT}') AS bd_group,
           sum(net_amount) FILTER (WHERE attributed_dac_first_touch = '{BRAND_DIRECT}') AS bd_first_touch,
           sum(net_amount) FILTER (WHERE attributed_dac_last_touch = '{BRAND_DIRECT}') AS bd_last_touch
    FROM marts.order_attribution WHERE week_start >= $lo AND week_start < $hi GROUP BY 1
),
methods AS (SELECT unnest(['group', 'first_touch', 'last_touch', 'average']) AS method),
grid AS (SELECT t.*, m.method FROM totals t CROSS JOIN methods m)
SELECT g.week_start, g.method, coalesce(a.dacs, 0), g.total_gmv,
       coalesce(a.dac_gmv, 0)::DECIMAL(18,2),
       (CASE g.method WHEN 'group' THEN coalesce(g.bd_group, 0)
                      WHEN 'first_touch' THEN coalesce(g.bd_first_touch, 0)
                      WHEN 'last_touch' THEN coalesce(g.bd_last_touch, 0)
                      ELSE (coalesce(g.bd_group, 0) + coalesce(g.bd_first_touch, 0) + coalesce(g.bd_last_touch, 0)) / 3
        END)::DECIMAL(18,2),
       CASE WHEN a.gini IS NOT NULL THEN greatest(a.gini, 0.0) END, a.dacs_for_half_gmv, a.top20_share
FROM grid g LEFT JOIN agg a USING (week_start, method)
"""


def build_concentration_weekly(conn: duckdb.DuckDBPyConnection, lo: date, hi: date) -> int:
    """Rewrite marts.dac_concentration_weekly for lo ≤ week_start < hi (from dac_contribution_weekly)."""
    p = {"lo": lo, "hi": hi}
    conn.execute("DELETE FROM marts.dac_concentration_weekly WHERE week_start >= $lo AND week_start < $hi", p)
    conn.execute("INSERT INTO marts.dac_concentration_weekly " + CONCENTRATION_SQL, p)
    return conn.execute(
        "SELECT count(*) FROM marts.dac_concentration_weekly WHERE week_start >= $lo AND week_start < $hi", p
    ).fetchone()[0]


ALERTS_SQL = f"""
WITH weeks AS (  -- "as of": the week's end, or the newest event in the data for the current, running week
    SELECT ws::DATE AS week_start,
           least(timezone($tz, (ws::DATE + 7)::TIMESTAMP), coalesce($as_of::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ))
               AS week_end_ts
    FROM (SELECT unnest(generate_series($lo::TIMESTAMP, $hi::TIMESTAMP - INTERVAL 1 DAY, INTERVAL 7 DAY)) AS ws)
),
events AS (  -- activity of a 大C: a message sent, or an order attributed to them by any method
    SELECT m.sender_member_id AS dac_id, m.sent_at AS event_at FROM staging.messages m
    JOIN marts.dacs d ON d.dac_id = m.sender_member_id
    WHERE NOT m.is_recalled AND m.sent_at < timezone($tz, $hi::TIMESTAMP)
    UNION ALL
    SELECT DISTINCT ON (order_id, dac_id) dac_id, paid_at FROM (
        SELECT order_id, paid_at, unnest([attributed_dac_group, attributed_dac_first_touch,
                                          attributed_dac_last_touch]) AS dac_id
        FROM marts.order_attribution WHERE week_start < $hi
    ) WHERE dac_id <> '{BRAND_DIRECT}'
),
act AS (  -- per 大C and week: events and the latest one; running totals make any window a difference
    SELECT dac_id, week_start, last_at,
           sum(n) OVER (PARTITION BY dac_id ORDER BY week_start) AS cum_n,
           max(last_at) OVER (PARTITION BY dac_id ORDER BY week_start) AS last_active_at
    FROM (SELECT dac_id, {_w("event_at")} AS week_start, count(*) AS n, max(event_at) AS last_at FROM events GROUP BY 1, 2)
),
grid AS (
    SELECT d.dac_id, d.dac_since, d.is_l4, d.l4_at, d.first_group_at, w.week_start, w.week_end_ts
    FROM marts.dacs d CROSS JOIN weeks w
),
state AS (
    SELECT g.*, cur.last_active_at,
           coalesce(b4.cum_n, 0) - coalesce(b12.cum_n, 0) AS activity_8w,
           date_diff('day', cur.last_active_at, g.week_end_ts) AS silent_days
    FROM grid g
    ASOF LEFT JOIN act cur ON cur.dac_id = g.dac_id AND cur.week_start <= g.week_start
    ASOF LEFT JOIN act b4 ON b4.dac_id = g.dac_id AND b4.week_start <= g.week_start - 28
    ASOF LEFT JOIN act b12 ON b12.dac_id = g.dac_id AND b12.week_start <= g.week_start - 84
    WHERE g.dac_since IS NULL OR g.dac_since <= g.week_start + 6
),
top AS (
    SELECT *, quantile_cont(activity_8w, 0.75) OVER (PARTITION BY week_start) AS q75 FROM state
)
SELECT week_start, dac_id, 'silent_top_dac', silent_days::INTEGER, last_active_at, activity_8w,
       printf('前8周活跃度 %d（前25%%），已沉默 %d 天（最后一次发言或归因订单：%s），请及时联系', activity_8w, silent_days,
              strftime(timezone($tz, last_active_at), '%Y-%m-%d')),
       printf('Top-quarter activity before (%d messages + attributed orders in 8 weeks) but silent for %d days '
              '(last message or attributed order %s): reach out', activity_8w, silent_days,
              strftime(timezone($tz, last_active_at), '%Y-%m-%d'))
FROM top
WHERE activity_8w > 0 AND activity_8w >= q75 AND silent_days BETWEEN $min_days AND $max_days
UNION ALL
SELECT week_start, dac_id, 'new_dac', NULL, NULL, NULL,
       CASE WHEN is_l4 AND l4_at = dac_since THEN printf('本周成为大C：%s 首次达到 L4', strftime(dac_since, '%Y-%m-%d'))
            ELSE printf('本周成为大C：%s 创建了第一个社群', strftime(dac_since, '%Y-%m-%d')) END,
       CASE WHEN is_l4 AND l4_at = dac_since THEN printf('New 大C this week: reached L4 on %s', strftime(dac_since, '%Y-%m-%d'))
            ELSE printf('New 大C this week: opened their first group on %s', strftime(dac_since, '%Y-%m-%d')) END
FROM state
WHERE dac_since >= week_start AND dac_since <= week_start + 6
"""


def build_alerts(
    conn: duckdb.DuckDBPyConnection, lo: date, hi: date, timezone: str, min_days: int = 7, max_days: int = 28
) -> int:
    """Rewrite marts.dac_alerts for lo ≤ week_start < hi: silent top-quarter 大C and newly promoted 大C."""
    p = {"lo": lo, "hi": hi}
    conn.execute("DELETE FROM marts.dac_alerts WHERE week_start >= $lo AND week_start < $hi", p)
    as_of = data_as_of(conn)
    conn.execute(
        "INSERT INTO marts.dac_alerts " + ALERTS_SQL,
        {**p, "tz": timezone, "min_days": min_days, "max_days": max_days, "as_of": as_of},
    )
    return conn.execute(
        "SELECT count(*) FROM marts.dac_alerts WHERE week_start >= $lo AND week_start < $hi", p
    ).fetchone()[0]
