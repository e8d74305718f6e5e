"""Pure logic of the weekly KPI roll-up (no Dagster): compute and write ``marts.weekly_kpis`` for a range of weeks.

Every KPI is recomputed from its source for the weeks asked plus the week before (for week-over-week), so a
partition range can be rebuilt on its own. Sources that are not built yet (another mart missing) give NULL KPIs,
never an error: the overview and the PDF then say "not available".

``predicted_clv_12m_base`` is different: the member lifetime mart holds one CLV per member *as of* one date, so the
base's predicted value is known only for the week holding that date. It is written for that week and kept for
older weeks (read back before the delete), which builds its history week by week as the pipeline runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from xiaoshuju import metrics
from xiaoshuju.warehouse import transaction

TABLE = "marts.weekly_kpis"
TABLE_SQL = Path(__file__).with_name("table.sql")

KPIS = [
    "gmv",
    "orders",
    "buyers",
    "new_members",
    "active_groups",
    "zombie_groups",
    "active_dacs",
    "new_dacs",
    "predicted_clv_12m_base",
]
ATTRIBUTION_METHODS = ["group", "first_touch", "last_touch"]
# Column names the 大C-contribution mart may use for the 大C of each method (wide layout of order_attribution).
_METHOD_COLUMNS = {
    "group": [
        "attributed_dac_group",
        "group_dac_id",
        "group_dac_member_id",
        "group_member_id",
        "group_based_dac_id",
        "dac_group",
    ],
    "first_touch": [
        "attributed_dac_first_touch",
        "first_touch_dac_id",
        "first_touch_dac_member_id",
        "first_touch_member_id",
        "dac_first_touch",
    ],
    "last_touch": [
        "attributed_dac_last_touch",
        "last_touch_dac_id",
        "last_touch_dac_member_id",
        "last_touch_member_id",
        "dac_last_touch",
    ],
}
_METHOD_ALIASES = {
    "group": "group",
    "group_based": "group",
    "group_owner": "group",
    "first_touch": "first_touch",
    "first": "first_touch",
    "referrer": "first_touch",
    "last_touch": "last_touch",
    "last": "last_touch",
    "seller": "last_touch",
}
BRAND_DIRECT = "brand_direct"


def ensure_table(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the table once and label every metric column from the registry (zh / en — formula)."""
    conn.execute(TABLE_SQL.read_text(encoding="utf-8"))
    for col in COLUMNS[2:]:
        # COMMENT ON takes no bound parameters: the registry text is quoted as an SQL literal.
        literal = "'" + metrics.column_comment(col).replace("'", "''") + "'"
        conn.execute(f"COMMENT ON COLUMN {TABLE}.{col} IS {literal}")


def iso_week_label(monday: dt.date) -> str:
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def _columns(conn: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    schema, name = qualified.split(".", 1)
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows}


def _first(cols: set[str], *candidates: str) -> str | None:
    return next((c for c in candidates if c in cols), None)


def _week(expr: str) -> str:
    """SQL for the Monday (Asia/Shanghai by $tz) of a TIMESTAMPTZ expression."""
    return f"CAST(date_trunc('week', timezone($tz, {expr})) AS DATE)"


def _attribution_long_sql(conn: duckdb.DuckDBPyConnection) -> str | None:
    """(order_id, method, dac_member_id) from marts.order_attribution, whatever its layout (long or wide)."""
    cols = _columns(conn, "marts.order_attribution")
    if "order_id" not in cols:
        return None
    if "method" in cols:
        dac = _first(cols, "dac_member_id", "dac_id", "attributed_member_id", "attributed_to", "member_id")
        if dac is None:
            return None
        cases = " ".join(f"WHEN '{alias}' THEN '{m}'" for alias, m in _METHOD_ALIASES.items())
        return (
            f"SELECT order_id, CASE lower(method) {cases} ELSE lower(method) END AS method, "
            f"{dac} AS dac_member_id FROM marts.order_attribution"
        )
    parts = []
    for method, candidates in _METHOD_COLUMNS.items():
        col = _first(cols, *candidates)
        if col:
            parts.append(
                f"SELECT order_id, '{method}' AS method, {col} AS dac_member_id FROM marts.order_attribution"
            )
    return " UNION ALL ".join(parts) or None


def compute_weekly_kpis(
    conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, tz: str = "Asia/Shanghai"
) -> pl.DataFrame:
    """KPIs for the weeks starting in [start, end) — both Mondays — plus week-over-week against the week before.

    Returns one row per week in the range (weeks without any data give zeros), columns as in table.sql except
    ``built_at``.
    """
    if start.weekday() != 0 or end.weekday() != 0:
        raise ValueError(f"weekly KPI ranges run Monday to Monday; got {start} .. {end}")
    zone = ZoneInfo(tz)
    lo_date = start - dt.timedelta(days=7)
    params = {
        "tz": tz,
        "lo_date": lo_date,
        "hi_date": end,
        "lo": dt.datetime.combine(lo_date, dt.time(), zone),
        "hi": dt.datetime.combine(end, dt.time(), zone),
    }
    have = {
        t: bool(_columns(conn, t))
        for t in ("marts.group_vitality_weekly", "marts.member_lifetime", "staging.messages")
    }
    ctes = [
        "weeks AS (SELECT CAST(range AS DATE) AS week_start "
        "FROM range(CAST($lo_date AS TIMESTAMP), CAST($hi_date AS TIMESTAMP), INTERVAL 7 DAY))",
        f"""ord AS (
            SELECT {_week("paid_at")} AS week_start, sum(net_amount) AS gmv, count(*) AS orders,
                   count(DISTINCT member_id) AS buyers
            FROM staging.orders WHERE is_paid AND paid_at >= $lo AND paid_at < $hi GROUP BY 1)""",
        f"""mem AS (
            SELECT {_week("first_seen_at")} AS week_start, count(*) AS new_members
            FROM staging.members WHERE NOT is_staff AND first_seen_at >= $lo AND first_seen_at < $hi GROUP BY 1)""",
    ]
    select = [
        "w.week_start",
        "CAST(coalesce(ord.gmv, 0) AS DECIMAL(18,2)) AS gmv",
        "coalesce(ord.orders, 0) AS orders",
        "coalesce(ord.buyers, 0) AS buyers",
        "coalesce(mem.new_members, 0) AS new_members",
    ]
    joins = ["LEFT JOIN ord USING (week_start)", "LEFT JOIN mem USING (week_start)"]

    gv_cols = _columns(conn, "marts.group_vitality_weekly")
    state_col = _first(gv_cols, "lifecycle_state", "lifecycle")
    if have["marts.group_vitality_weekly"] and "week_start" in gv_cols and state_col:
        zombie = "is_zombie" if "is_zombie" in gv_cols else f"{state_col} = 'zombie'"
        ctes.append(f"""grp AS (
            SELECT week_start, count(*) FILTER (WHERE {state_col} IN ('new', 'active')) AS active_groups,
                   count(*) FILTER (WHERE {zombie}) AS zombie_groups
            FROM marts.group_vitality_weekly WHERE week_start >= $lo_date AND week_start < $hi_date GROUP BY 1)""")
        select += [
            "coalesce(grp.active_groups, 0) AS active_groups",
            "coalesce(grp.zombie_groups, 0) AS zombie_groups",
        ]
        joins.append("LEFT JOIN grp USING (week_start)")
    else:
        select += ["CAST(NULL AS BIGINT) AS active_groups", "CAST(NULL AS BIGINT) AS zombie_groups"]

    attribution = _attribution_long_sql(conn)
    ml_cols = _columns(conn, "marts.member_lifetime")
    dacs_cols = _columns(conn, "marts.dacs")
    dcw_cols = _columns(conn, "marts.dac_contribution_weekly")
    # new 大C: the 大C mart's promotion date (L4 or first group owned) when built, else member_lifetime's l4_at
    if "dac_since" in dacs_cols:
        ctes.append("""newdac AS (
            SELECT CAST(date_trunc('week', dac_since) AS DATE) AS week_start, count(*) AS new_dacs
            FROM marts.dacs WHERE dac_since >= $lo_date AND dac_since < $hi_date GROUP BY 1)""")
    elif "l4_at" in ml_cols:
        ctes.append("""newdac AS (
            SELECT CAST(date_trunc('week', CAST(l4_at AS DATE)) AS DATE) AS week_start, count(*) AS new_dacs
            FROM marts.member_lifetime
            WHERE CAST(l4_at AS DATE) >= $lo_date AND CAST(l4_at AS DATE) < $hi_date GROUP BY 1)""")
    if "dac_since" in dacs_cols or "l4_at" in ml_cols:
        select.append("coalesce(newdac.new_dacs, 0) AS new_dacs")
        joins.append("LEFT JOIN newdac USING (week_start)")
    else:
        select.append("CAST(NULL AS BIGINT) AS new_dacs")
    # active 大C: the 大C mart's weekly flag when built, else L4 members with a message or an attributed order
    if {"is_active", "is_dac_this_week"} <= dcw_cols:
        ctes.append("""actdac AS (
            SELECT week_start, count(DISTINCT dac_id) AS active_dacs FROM marts.dac_contribution_weekly
            WHERE is_dac_this_week AND is_active AND week_start >= $lo_date AND week_start < $hi_date GROUP BY 1)""")
    elif "l4_at" in ml_cols:
        events = []
        if have["staging.messages"]:
            events.append(
                "SELECT sender_member_id AS member_id, sent_at AS ts FROM staging.messages "
                "WHERE sent_at >= $lo AND sent_at < $hi AND NOT is_recalled AND kind NOT IN ('system', 'recall')"
            )
        if attribution:
            events.append(
                f"SELECT a.dac_member_id AS member_id, o.paid_at AS ts FROM ({attribution}) a "
                "JOIN staging.orders o USING (order_id) WHERE o.is_paid AND o.paid_at >= $lo AND o.paid_at < $hi"
            )
        if events:
            ctes.append(f"""actdac AS (
                SELECT {_week("e.ts")} AS week_start, count(DISTINCT e.member_id) AS active_dacs
                FROM ({" UNION ALL ".join(events)}) e JOIN marts.member_lifetime m ON m.member_id = e.member_id
                WHERE m.l4_at IS NOT NULL
                  AND CAST(date_trunc('week', CAST(m.l4_at AS DATE)) AS DATE) <= {_week("e.ts")} GROUP BY 1)""")
    if any(c.startswith("actdac AS") for c in ctes):
        select.append("coalesce(actdac.active_dacs, 0) AS active_dacs")
        joins.append("LEFT JOIN actdac USING (week_start)")
    else:
        select.append("CAST(NULL AS BIGINT) AS active_dacs")

    if attribution:
        ctes.append(f"""attr AS (
            SELECT {_week("o.paid_at")} AS week_start, a.method, sum(o.net_amount) AS gmv
            FROM (SELECT DISTINCT order_id, method FROM ({attribution}) x
                  WHERE dac_member_id IS NOT NULL AND dac_member_id <> '{BRAND_DIRECT}') a
            JOIN staging.orders o USING (order_id)
            WHERE o.is_paid AND o.paid_at >= $lo AND o.paid_at < $hi GROUP BY 1, 2)""")
        for m in ATTRIBUTION_METHODS:
            select.append(
                f"CAST(coalesce((SELECT gmv FROM attr WHERE attr.week_start = w.week_start AND attr.method = '{m}'), 0)"
                f" AS DECIMAL(18,2)) AS gmv_attr_{m}"
            )
    else:
        select += [f"CAST(NULL AS DECIMAL(18,2)) AS gmv_attr_{m}" for m in ATTRIBUTION_METHODS]

    sql = (
        "WITH "
        + ",\n".join(ctes)
        + "\nSELECT "
        + ", ".join(select)
        + " FROM weeks w "
        + " ".join(joins)
        + " ORDER BY w.week_start"
    )
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    df = conn.execute(sql, used).pl()

    clv = _clv_of_base(conn, ml_cols, tz)
    previous = _stored_clv(conn)
    df = df.with_columns(
        pl.col("week_start")
        .map_elements(
            lambda d: clv[1] if clv and clv[0] == d else previous.get(d),
            return_dtype=pl.Float64,
            skip_nulls=False,
        )
        .alias("predicted_clv_12m_base")
    )
    df = df.with_columns(
        [
            pl.when(pl.col(k).shift(1).cast(pl.Float64) > 0)
            .then(
                (pl.col(k).cast(pl.Float64) - pl.col(k).shift(1).cast(pl.Float64))
                / pl.col(k).shift(1).cast(pl.Float64)
            )
            .otherwise(None)
            .alias(f"{k}_wow")
            for k in KPIS
        ]
    )
    df = df.filter(pl.col("week_start") >= start).with_columns(
        pl.col("week_start").map_elements(iso_week_label, return_dtype=pl.String).alias("week_label"),
        pl.col("predicted_clv_12m_base").round(2),
    )
    return df


def _clv_of_base(conn: duckdb.DuckDBPyConnection, ml_cols: set[str], tz: str) -> tuple[dt.date, float] | None:
    """(Monday of the CLV as-of date, Σ predicted_clv_12m) or None when the member lifetime mart is missing."""
    if "predicted_clv_12m" not in ml_cols:
        return None
    as_of_col = _first(ml_cols, "as_of", "as_of_date")
    if as_of_col:
        as_of = conn.execute(f"SELECT max(CAST({as_of_col} AS DATE)) FROM marts.member_lifetime").fetchone()[
            0
        ]
    else:  # the mart scores as of the latest order date by default
        as_of = conn.execute(
            "SELECT CAST(max(timezone($tz, paid_at)) AS DATE) FROM staging.orders WHERE is_paid", {"tz": tz}
        ).fetchone()[0]
    if as_of is None:
        return None
    total = conn.execute("SELECT sum(predicted_clv_12m) FROM marts.member_lifetime").fetchone()[0]
    if total is None:
        return None
    return as_of - dt.timedelta(days=as_of.weekday()), float(total)


def _stored_clv(conn: duckdb.DuckDBPyConnection) -> dict[dt.date, float]:
    if not _columns(conn, TABLE):
        return {}
    rows = conn.execute(
        f"SELECT week_start, predicted_clv_12m_base FROM {TABLE} WHERE predicted_clv_12m_base IS NOT NULL"
    ).fetchall()
    return {r[0]: float(r[1]) for r in rows}


COLUMNS = (
    ["week_start", "week_label"]
    + KPIS
    + [f"gmv_attr_{m}" for m in ATTRIBUTION_METHODS]
    + [f"{k}_wow" for k in KPIS]
)


def write_weekly_kpis(
    conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, tz: str = "Asia/Shanghai"
) -> pl.DataFrame:
    """Recompute the weeks in [start, end) and replace exactly those rows, all-or-nothing."""
    ensure_table(conn)
    df = compute_weekly_kpis(conn, start, end, tz).select(COLUMNS)
    with transaction(conn):
        conn.execute(f"DELETE FROM {TABLE} WHERE week_start >= ? AND week_start < ?", [start, end])
        conn.register("_weekly_kpis_new", df.to_arrow())
        try:
            conn.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, built_at) "
                f"SELECT {', '.join(COLUMNS)}, now() FROM _weekly_kpis_new"
            )
        finally:
            conn.unregister("_weekly_kpis_new")
    return df
