"""Who is a 大C, and which 大C each paid order is attributed to (three methods, all kept).

Pure DuckDB functions: they read staging + marts.member_lifetime and (re)write marts.dacs / marts.order_attribution.
Callers wrap them in ``xiaoshuju.warehouse.transaction``.
"""

from __future__ import annotations

import duckdb

from assets.marts.dac_contribution.tables import table_exists

BRAND_DIRECT = "brand_direct"
METHODS = ("group", "first_touch", "last_touch")
# A binding recorded up to this long after the first order still counts for that order (exports stamp the
# customer binding with the time the customer record was created, which can trail the payment slightly).
FIRST_TOUCH_GRACE_DAYS = 1

# The first referral binding of every referee (self-referrals ignored). Shared with the referral tree.
# "First" among the most reliable kind of evidence the referee has: explicit invite records and WeCom's invitor
# field, then chat evidence (invite / QR / link system messages), then 有赞 分销员 bindings (a sales binding, often
# the group owner rather than the person who invited). Within a kind: earliest, then smallest referrer id.
CHANNEL_TIER_SQL = """CASE channel WHEN 'invite_record' THEN 1 WHEN 'wecom_invitor' THEN 1
                       WHEN 'distributor_binding' THEN 3 ELSE 2 END"""
FIRST_BINDING_SQL = f"""
SELECT referee_member_id AS member_id, referrer_member_id AS referrer_id, referred_at
FROM (
    SELECT referee_member_id, referrer_member_id, referred_at,
           row_number() OVER (PARTITION BY referee_member_id
                              ORDER BY {CHANNEL_TIER_SQL}, referred_at, referrer_member_id) AS rn
    FROM staging.referrals
    WHERE referrer_member_id IS NOT NULL AND referee_member_id IS NOT NULL
      AND referrer_member_id <> referee_member_id
)
WHERE rn = 1
"""


def build_dacs(conn: duckdb.DuckDBPyConnection, timezone: str) -> int:
    """Rewrite marts.dacs: owners of groups (staging.groups) ∪ L4 members (marts.member_lifetime) who sold to
    others as 分销员 / 团长 / 帮卖 on a paid order.

    A member who is L4 only by the referral clause but neither runs a group nor sells is a strong referrer, not a
    大C: on simulated data counting them too halves precision (docs/marts/dac_contribution.md)."""
    if table_exists(conn, "marts", "member_lifetime"):
        l4_sql = (
            "SELECT member_id, min(l4_at) AS l4_at FROM marts.member_lifetime "
            "WHERE role_level = 'L4' GROUP BY member_id"
        )
    else:  # member lifetime not built yet: group owners only
        l4_sql = "SELECT NULL::VARCHAR AS member_id, NULL::DATE AS l4_at WHERE FALSE"
    conn.execute("DELETE FROM marts.dacs")
    conn.execute(
        f"""
        INSERT INTO marts.dacs
        WITH l4 AS ({l4_sql}),
        owners AS (
            SELECT owner_member_id AS dac_id,
                   min(timezone(?, coalesce(created_at, first_event_at)))::DATE AS first_group_at,
                   count(*) AS groups_owned
            FROM staging.groups WHERE owner_member_id IS NOT NULL
            GROUP BY owner_member_id
        ),
        sellers AS (
            SELECT DISTINCT seller_member_id AS member_id FROM staging.orders
            WHERE is_paid AND seller_member_id IS NOT NULL AND seller_member_id IS DISTINCT FROM member_id
        ),
        candidates AS (
            SELECT coalesce(l4.member_id, o.dac_id) AS dac_id, l4.member_id IS NOT NULL AS is_l4,
                   o.dac_id IS NOT NULL AS is_group_owner, l4.l4_at, o.first_group_at,
                   coalesce(o.groups_owned, 0) AS groups_owned
            FROM l4 FULL OUTER JOIN owners o ON l4.member_id = o.dac_id
        )
        SELECT c.dac_id, c.is_l4, c.is_group_owner, s.member_id IS NOT NULL, c.l4_at, c.first_group_at,
               least(c.l4_at, c.first_group_at), c.groups_owned
        FROM candidates c LEFT JOIN sellers s ON s.member_id = c.dac_id
        WHERE c.is_group_owner OR s.member_id IS NOT NULL
        """,
        [timezone],
    )
    return conn.execute("SELECT count(*) FROM marts.dacs").fetchone()[0]


def l4_not_dac(conn: duckdb.DuckDBPyConnection) -> int:
    """L4 members left out of marts.dacs (no group, no sales to others): reported in metadata."""
    if not table_exists(conn, "marts", "member_lifetime"):
        return 0
    return conn.execute(
        "SELECT count(DISTINCT member_id) FROM marts.member_lifetime WHERE role_level = 'L4' "
        "AND member_id NOT IN (SELECT dac_id FROM marts.dacs)"
    ).fetchone()[0]


MEMBERSHIP_SPANS_SQL = """
SELECT group_id, member_id, event_at AS join_at, next_leave AS leave_at
FROM (
    SELECT group_id, member_id, event, event_at,
           min(CASE WHEN event = 'leave' THEN event_at END) OVER (
               PARTITION BY group_id, member_id ORDER BY event_at, event
               ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_leave
    FROM staging.group_memberships
)
WHERE event = 'join'
"""


def build_order_attribution(
    conn: duckdb.DuckDBPyConnection, timezone: str, first_touch_window_days: int = 0
) -> int:
    """Rewrite marts.order_attribution: one row per paid order with all three attributions."""
    conn.execute("DELETE FROM marts.order_attribution")
    conn.execute(
        f"""
        INSERT INTO marts.order_attribution
        WITH paid AS (
            SELECT order_id, member_id, paid_at, net_amount, seller_member_id, group_id AS order_group_id
            FROM staging.orders WHERE is_paid AND paid_at IS NOT NULL
        ),
        spans AS ({MEMBERSHIP_SPANS_SQL}),
        cand AS (
            SELECT p.order_id, s.group_id, s.join_at, 0 AS named, p.seller_member_id
            FROM paid p JOIN spans s
              ON s.member_id = p.member_id AND s.join_at <= p.paid_at
             AND (s.leave_at IS NULL OR s.leave_at > p.paid_at)
            UNION ALL
            SELECT order_id, order_group_id, NULL, 1, seller_member_id FROM paid WHERE order_group_id IS NOT NULL
        ),
        buyer_group AS (  -- tie-break: named by the order, owned by the seller, most recent join, smallest id
            SELECT order_id, best.group_id, best.owner_member_id FROM (
                SELECT c.order_id,
                       arg_min(struct_pack(group_id := c.group_id, owner_member_id := g.owner_member_id),
                               struct_pack(named := -c.named,
                                           seller_owned := -(g.owner_member_id IS NOT NULL
                                                             AND g.owner_member_id = c.seller_member_id)::INTEGER,
                                           joined := -coalesce(epoch_us(c.join_at), 0),
                                           group_id := c.group_id)) AS best
                FROM cand c LEFT JOIN staging.groups g ON g.group_id = c.group_id
                GROUP BY c.order_id
            )
        ),
        first_binding AS ({FIRST_BINDING_SQL}),
        joined AS (
            SELECT p.*, bg.group_id, bg.owner_member_id,
                   CASE WHEN fb.referrer_id IS NOT NULL
                         AND p.paid_at >= fb.referred_at - ?::INTEGER * INTERVAL 1 DAY
                         AND (?::INTEGER = 0 OR p.paid_at < fb.referred_at + ?::INTEGER * INTERVAL 1 DAY)
                        THEN fb.referrer_id END AS ft_id,
                   fb.referred_at
            FROM paid p
            LEFT JOIN buyer_group bg USING (order_id)
            LEFT JOIN first_binding fb ON fb.member_id = p.member_id
        )
        SELECT j.order_id, j.member_id, j.paid_at,
               date_trunc('week', timezone(?, j.paid_at))::DATE,
               j.net_amount, j.group_id, j.owner_member_id,
               j.ft_id, CASE WHEN j.ft_id IS NOT NULL THEN j.referred_at END,
               j.seller_member_id,
               coalesce(dg.dac_id, '{BRAND_DIRECT}'),
               coalesce(df.dac_id, '{BRAND_DIRECT}'),
               coalesce(dl.dac_id, '{BRAND_DIRECT}')
        FROM joined j
        LEFT JOIN marts.dacs dg ON dg.dac_id = j.owner_member_id
        LEFT JOIN marts.dacs df ON df.dac_id = j.ft_id
        LEFT JOIN marts.dacs dl ON dl.dac_id = j.seller_member_id
        """,
        [FIRST_TOUCH_GRACE_DAYS, first_touch_window_days, first_touch_window_days, timezone],
    )
    return conn.execute("SELECT count(*) FROM marts.order_attribution").fetchone()[0]


def attribution_reconciliation(conn: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per method: total GMV of paid orders vs Σ of GMV attributed per id (brand_direct included).

    ``ok`` is true when no order is lost or counted twice: same order count, same total, per-id sums add up.
    """
    staged_orders, staged_gmv = conn.execute(
        "SELECT count(*), coalesce(sum(net_amount), 0) FROM staging.orders WHERE is_paid AND paid_at IS NOT NULL"
    ).fetchone()
    rows, distinct_orders = conn.execute(
        "SELECT count(*), count(DISTINCT order_id) FROM marts.order_attribution"
    ).fetchone()
    out = []
    for method in METHODS:
        col = f"attributed_dac_{method}"  # fixed identifiers from METHODS
        attributed, dacs_gmv = conn.execute(
            f"""SELECT coalesce(sum(gmv), 0), coalesce(sum(gmv) FILTER (WHERE id <> '{BRAND_DIRECT}'), 0)
                FROM (SELECT {col} AS id, sum(net_amount) AS gmv FROM marts.order_attribution GROUP BY 1)"""
        ).fetchone()
        out.append(
            {
                "method": method,
                "paid_orders": int(staged_orders),
                "attributed_rows": int(rows),
                "total_gmv": float(staged_gmv),
                "attributed_gmv_all_ids": float(attributed),
                "dac_gmv": float(dacs_gmv),
                "brand_direct_gmv": float(attributed - dacs_gmv),
                "ok": rows == staged_orders == distinct_orders and attributed == staged_gmv,
            }
        )
    return out
