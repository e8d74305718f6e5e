"""DuckDB SQL over the canonical staging tables: purchases by day, BTYD inputs, the ladder, home group.

Every function works on an open connection and leaves connection-local TEMP tables (prefix ``_ml_``) that the
build functions join. Values are always bound parameters.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np

from assets.marts.member_lifetime.model import BtydInputs

# local day of an order: paid time, else created time, in the brand's time zone
_ORDER_DAY = "CAST(timezone($tz, COALESCE(o.paid_at, o.created_at)) AS DATE)"


def latest_order_day(conn: duckdb.DuckDBPyConnection, tz: str) -> dt.date | None:
    return conn.execute(
        f"SELECT max({_ORDER_DAY}) FROM staging.orders o WHERE o.is_paid", {"tz": tz}
    ).fetchone()[0]


def first_order_day(conn: duckdb.DuckDBPyConnection, tz: str) -> dt.date | None:
    return conn.execute(
        f"SELECT min({_ORDER_DAY}) FROM staging.orders o WHERE o.is_paid", {"tz": tz}
    ).fetchone()[0]


def default_as_of(conn: duckdb.DuckDBPyConnection, tz: str, rule: str = "week_end") -> dt.date | None:
    """``week_end``: the last Sunday on or before the latest order day (the end of the latest complete week with
    data); the latest order day itself if that Sunday falls before the first order. ``latest_order``: the latest
    order day. None when there are no paid orders."""
    last = latest_order_day(conn, tz)
    if last is None or rule == "latest_order":
        return last
    if rule != "week_end":
        raise ValueError(f"unknown as_of_rule {rule!r}: use 'week_end' or 'latest_order'")
    sunday = last - dt.timedelta(days=(last.weekday() + 1) % 7)
    first = first_order_day(conn, tz)
    return sunday if sunday >= first else last


def load_orders(conn: duckdb.DuckDBPyConnection, as_of: dt.date, tz: str) -> None:
    """_ml_orders: paid orders up to as_of with their local day (brand staff's own purchases left out);
    _ml_days: purchase days (net > 0) per member."""
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ml_orders AS
        SELECT o.order_id, o.member_id, o.seller_member_id, CAST(o.net_amount AS DECIMAL(18,2)) AS net,
               COALESCE(o.paid_at, o.created_at) AS ts, {_ORDER_DAY} AS day
        FROM staging.orders o
        WHERE o.is_paid AND {_ORDER_DAY} <= $as_of
          AND (o.member_id IS NULL OR o.member_id NOT IN (SELECT member_id FROM staging.members WHERE is_staff))
        """,
        {"tz": tz, "as_of": as_of},
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ml_days AS
        SELECT member_id, day, sum(net)::DOUBLE AS spend, count(*) AS n_orders
        FROM _ml_orders WHERE member_id IS NOT NULL AND net > 0
        GROUP BY member_id, day
        """
    )


def btyd_inputs(
    conn: duckdb.DuckDBPyConnection, as_of: dt.date, unit_days: int, table: str = "_ml_days"
) -> tuple[list[str], BtydInputs]:
    """Per-buyer (x, t_x, T) in time units and repeat-spend inputs, from a purchase-day table."""
    if table not in {"_ml_days", "_ml_days_cal"}:
        raise ValueError(table)
    rel = conn.execute(
        f"""
        WITH d AS (
            SELECT member_id, day, spend,
                   min(day) OVER (PARTITION BY member_id) AS first_day
            FROM {table} WHERE day <= $as_of
        )
        SELECT member_id,
               count(*) - 1 AS x,
               date_diff('day', min(day), max(day)) AS tx_days,
               date_diff('day', min(day), $as_of) AS T_days,
               avg(spend) FILTER (WHERE day > first_day) AS repeat_mean,
               avg(spend) AS mean_all
        FROM d GROUP BY member_id ORDER BY member_id
        """,
        {"as_of": as_of},
    ).fetchnumpy()
    ids = [str(v) for v in rel["member_id"]]
    u = float(unit_days)

    def arr(name: str) -> np.ndarray:
        v = rel[name]
        if np.ma.isMaskedArray(v):
            return v.astype(float).filled(np.nan)
        return np.asarray(v, dtype=float)

    x = arr("x")
    inp = BtydInputs(
        x=x,
        t_x=arr("tx_days") / u,
        T=arr("T_days") / u,
        spend_n=x.copy(),
        spend_mean=arr("repeat_mean"),
        mean_spend_all=arr("mean_all"),
    )
    return ids, inp


def holdout_actuals(conn: duckdb.DuckDBPyConnection, cal_end: dt.date, as_of: dt.date) -> None:
    """_ml_days_cal: purchase days up to cal_end; _ml_holdout: repeat purchase days in (cal_end, as_of]."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _ml_days_cal AS SELECT * FROM _ml_days WHERE day <= $c", {"c": cal_end}
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ml_holdout AS
        SELECT d.member_id, count(*) FILTER (WHERE d.day > $c AND d.day <= $a) AS actual
        FROM _ml_days d
        WHERE d.member_id IN (SELECT member_id FROM _ml_days_cal)
        GROUP BY d.member_id ORDER BY d.member_id
        """,
        {"c": cal_end, "a": as_of},
    )


def ladder(
    conn: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    tz: str,
    min_group_members: int,
    min_referees_90d: int,
    min_attributed_gmv: float,
    min_buyers_served: int,
) -> None:
    """_ml_ladder: per member the first date each ladder condition held (before monotone roll-up), plus
    attributed GMV, distinct buyers served and the number of referees who bought. Needs _ml_orders / _ml_days.

    The attributed-GMV rule holds on the first day when cumulative attributed GMV is > 0 and ≥ cumulative own
    GMV and — unless the member owns a group (``staging.groups``) created by then — ≥ ``min_attributed_gmv`` yuan
    from at least ``min_buyers_served`` distinct buyers with a purchase (net > 0) naming the member as seller."""
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ml_ref AS
        SELECT referrer_member_id AS referrer, referee_member_id AS referee,
               min(CAST(timezone($tz, referred_at) AS DATE)) AS ref_day
        FROM staging.referrals
        WHERE referrer_member_id <> referee_member_id
          AND CAST(timezone($tz, referred_at) AS DATE) <= $as_of
        GROUP BY 1, 2
        """,
        {"tz": tz, "as_of": as_of},
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ml_ladder AS
        WITH first_days AS (
            SELECT member_id, min(day) AS l1, min(day) FILTER (WHERE rk = 2) AS l2
            FROM (SELECT member_id, day, row_number() OVER (PARTITION BY member_id ORDER BY day) AS rk
                  FROM _ml_days)
            GROUP BY member_id
        ),
        paid_days AS (  -- for referees "bought" = paid an order, even one refunded later
            SELECT DISTINCT member_id, day FROM _ml_orders WHERE member_id IS NOT NULL
        ),
        conv AS (  -- a referee "bought" on their first paid day on/after the referral day
            SELECT r.referrer, r.referee, min(d.day) AS conv_day
            FROM _ml_ref r JOIN paid_days d ON d.member_id = r.referee AND d.day >= r.ref_day
            GROUP BY 1, 2
        ),
        ref_buys AS (  -- paid days of each referee on/after being referred
            SELECT r.referrer, r.referee, d.day
            FROM _ml_ref r JOIN paid_days d ON d.member_id = r.referee AND d.day >= r.ref_day
        ),
        islands AS (  -- each purchase covers [day, day + 89]; overlapping covers of one referee merge
            SELECT referrer, referee, day,
                   sum(CASE WHEN prev IS NULL OR day > prev + 90 THEN 1 ELSE 0 END)
                       OVER (PARTITION BY referrer, referee ORDER BY day) AS island
            FROM (SELECT *, lag(day) OVER (PARTITION BY referrer, referee ORDER BY day) AS prev FROM ref_buys)
        ),
        covers AS (
            SELECT referrer, min(day) AS c_from, max(day) + 90 AS c_until FROM islands
            GROUP BY referrer, referee, island
        ),
        sweep AS (  -- distinct referees with a purchase in the trailing 90 days, day by day
            SELECT referrer, on_day, delta,
                   sum(delta) OVER (PARTITION BY referrer ORDER BY on_day, delta ROWS UNBOUNDED PRECEDING) AS n
            FROM (SELECT referrer, c_from AS on_day, 1 AS delta FROM covers
                  UNION ALL SELECT referrer, c_until, -1 FROM covers)
        ),
        l4r AS (SELECT referrer, min(on_day) AS l4_referees FROM sweep WHERE delta = 1 AND n >= $k GROUP BY 1),
        ref_l AS (
            SELECT c.referrer AS member_id, min(c.conv_day) AS l3, count(*) AS referees_bought,
                   any_value(l4r.l4_referees) AS l4_referees
            FROM conv c LEFT JOIN l4r USING (referrer) GROUP BY 1
        ),
        ev AS (
            SELECT group_id, member_id, event, event_at,
                   lag(event) OVER (PARTITION BY group_id, member_id ORDER BY event_at, event) AS prev
            FROM staging.group_memberships
            WHERE CAST(timezone($tz, event_at) AS DATE) <= $as_of
        ),
        delta AS (
            SELECT group_id, event_at,
                   CASE WHEN event = 'join' AND (prev IS NULL OR prev = 'leave') THEN 1
                        WHEN event = 'leave' AND prev = 'join' THEN -1 ELSE 0 END AS d
            FROM ev
        ),
        size AS (
            SELECT group_id, event_at,
                   sum(d) OVER (PARTITION BY group_id ORDER BY event_at, d DESC ROWS UNBOUNDED PRECEDING) AS n
            FROM delta WHERE d <> 0
        ),
        big AS (SELECT group_id, min(event_at) AS reached FROM size WHERE n >= $min_members GROUP BY 1),
        own_l AS (
            SELECT g.owner_member_id AS member_id, min(CAST(timezone($tz, big.reached) AS DATE)) AS l4_group
            FROM big JOIN staging.groups g USING (group_id)
            WHERE g.owner_member_id IS NOT NULL GROUP BY 1
        ),
        sold AS (  -- other members' orders naming the member as seller (分销员/团长)
            SELECT seller_member_id AS member_id, member_id AS buyer, day, net
            FROM _ml_orders
            WHERE seller_member_id IS NOT NULL AND seller_member_id IS DISTINCT FROM member_id
        ),
        served AS (  -- the first day each buyer made a purchase (net > 0) through the seller
            SELECT member_id, buyer, min(day) AS day FROM sold WHERE buyer IS NOT NULL AND net > 0 GROUP BY 1, 2
        ),
        flows AS (
            SELECT member_id, day, net AS attr, 0::DECIMAL(18,2) AS own, 0 AS new_buyers FROM sold
            UNION ALL
            SELECT member_id, day, 0::DECIMAL(18,2), net, 0 FROM _ml_orders WHERE member_id IS NOT NULL
            UNION ALL
            SELECT member_id, day, 0::DECIMAL(18,2), 0::DECIMAL(18,2), 1 FROM served
        ),
        daily AS (
            SELECT member_id, day, sum(attr) AS attr, sum(own) AS own, sum(new_buyers) AS new_buyers
            FROM flows GROUP BY 1, 2
        ),
        cum AS (
            SELECT member_id, day,
                   sum(attr) OVER w AS cattr, sum(own) OVER w AS cown, sum(new_buyers) OVER w AS cbuyers
            FROM daily
            WINDOW w AS (PARTITION BY member_id ORDER BY day)
        ),
        owners AS (  -- group owners (团长) from the day their first group was created (unknown date: always)
            SELECT owner_member_id AS member_id,
                   min(COALESCE(CAST(timezone($tz, created_at) AS DATE), DATE '1970-01-01')) AS owner_since
            FROM staging.groups WHERE owner_member_id IS NOT NULL GROUP BY 1
        ),
        gmv_l AS (
            SELECT c.member_id,
                   min(c.day) FILTER (WHERE c.cattr > 0 AND c.cattr >= c.cown
                                      AND (c.day >= ow.owner_since
                                           OR (c.cattr >= $min_gmv AND c.cbuyers >= $min_buyers))) AS l4_gmv,
                   max(c.cattr) AS attributed_gmv, max(c.cbuyers) AS buyers_served
            FROM cum c LEFT JOIN owners ow USING (member_id) GROUP BY 1
        ),
        ids AS (
            SELECT member_id FROM first_days UNION SELECT member_id FROM ref_l
            UNION SELECT member_id FROM own_l UNION SELECT member_id FROM gmv_l
        )
        SELECT ids.member_id, f.l1, f.l2, r.l3, r.l4_referees, o.l4_group, g.l4_gmv,
               COALESCE(g.attributed_gmv, 0)::DECIMAL(18,2) AS attributed_gmv,
               COALESCE(g.buyers_served, 0)::INTEGER AS buyers_served,
               COALESCE(r.referees_bought, 0)::INTEGER AS referees_bought
        FROM ids
        LEFT JOIN first_days f USING (member_id)
        LEFT JOIN ref_l r USING (member_id)
        LEFT JOIN own_l o USING (member_id)
        LEFT JOIN gmv_l g USING (member_id)
        """,
        {
            "tz": tz,
            "as_of": as_of,
            "k": int(min_referees_90d),
            "min_members": int(min_group_members),
            "min_gmv": float(min_attributed_gmv),
            "min_buyers": int(min_buyers_served),
        },
    )


def home_and_serving(conn: duckdb.DuckDBPyConnection, as_of: dt.date, tz: str) -> None:
    """_ml_home: per member the home group and the serving 大C (see docs/marts/member_lifetime.md)."""
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ml_home AS
        WITH gm AS (
            SELECT group_id, member_id, arg_max(event, event_at) AS last_event,
                   min(event_at) AS first_at, max(event_at) AS last_at
            FROM staging.group_memberships
            WHERE CAST(timezone($tz, event_at) AS DATE) <= $as_of
            GROUP BY 1, 2
        ),
        home AS (
            SELECT member_id, group_id FROM (
                SELECT member_id, group_id, row_number() OVER (
                    PARTITION BY member_id
                    ORDER BY (last_event = 'join') DESC,
                             CASE WHEN last_event = 'join' THEN first_at END ASC,
                             last_at DESC, group_id) AS rn
                FROM gm)
            WHERE rn = 1
        ),
        last_seller AS (
            SELECT member_id, arg_max(seller_member_id, ts) AS seller
            FROM _ml_orders
            WHERE member_id IS NOT NULL AND seller_member_id IS NOT NULL AND seller_member_id <> member_id
            GROUP BY 1
        ),
        first_ref AS (
            SELECT referee AS member_id, arg_min(referrer, ref_day) AS referrer FROM _ml_ref GROUP BY 1
        ),
        ids AS (SELECT member_id FROM home UNION SELECT member_id FROM last_seller
                UNION SELECT member_id FROM first_ref)
        SELECT ids.member_id, h.group_id AS home_group_id,
               COALESCE(CASE WHEN g.owner_member_id <> ids.member_id THEN g.owner_member_id END,
                        s.seller, f.referrer) AS serving_dac_id
        FROM ids
        LEFT JOIN home h USING (member_id)
        LEFT JOIN staging.groups g ON g.group_id = h.group_id
        LEFT JOIN last_seller s USING (member_id)
        LEFT JOIN first_ref f USING (member_id)
        """,
        {"tz": tz, "as_of": as_of},
    )
