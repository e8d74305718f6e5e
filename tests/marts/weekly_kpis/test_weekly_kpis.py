"""marts.weekly_kpis on hand-built staging and mart tables with known answers.

Weeks (Monday, Asia/Shanghai): W46 = 2026-11-09, W47 = 2026-11-16, W48 = 2026-11-23.
"""

import datetime as dt

import duckdb
import pytest

from assets.marts.weekly_kpis.build import compute_weekly_kpis, write_weekly_kpis
from xiaoshuju.warehouse import apply_schema

W46, W47, W48, W49 = (
    dt.date(2026, 11, 9),
    dt.date(2026, 11, 16),
    dt.date(2026, 11, 23),
    dt.date(2026, 11, 30),
)

# (order_id, member, is_paid, paid_at Asia/Shanghai, paid, refund)
ORDERS = [
    ("o1", "m1", True, "2026-11-17 10:00:00", 100, 0),
    ("o2", "m2", True, "2026-11-22 23:30:00", 80, 30),  # Sunday night Beijing time: still W47
    ("o3", "m1", True, "2026-11-23 00:30:00", 70, 0),  # Monday 00:30 Beijing = Sunday UTC: W48
    ("o4", "m3", False, None, 0, 0),  # unpaid: not GMV
    ("o5", "m3", True, "2026-11-10 12:00:00", 40, 0),
    ("o6", "m1", True, "2026-11-18 09:00:00", 30, 0),
]
# (member, first_seen Asia/Shanghai, is_staff)
MEMBERS = [
    ("m1", "2026-11-10 08:00:00", False),
    ("m2", "2026-11-16 01:00:00", False),  # = 2026-11-15 17:00 UTC, a W47 member in Beijing time
    ("m3", "2026-11-15 23:59:00", False),
    ("s1", "2026-11-17 09:00:00", True),
    ("d1", "2026-10-01 09:00:00", False),
]


def _build(conn, *, marts=True, as_of="2026-11-22"):
    apply_schema(conn)
    conn.execute("SET TimeZone = 'UTC'")
    for oid, mid, paid, paid_at, amount, refund in ORDERS:
        conn.execute(
            """INSERT INTO staging.orders (order_id, source, source_order_no, member_id, status, is_paid, created_at,
                   paid_at, paid_amount, refund_amount, net_amount, source_file_sha256)
               VALUES (?, 'youzan', ?, ?, 'paid', ?, TIMESTAMPTZ '2026-11-01 00:00:00+08',
                       CAST(? || '+08' AS TIMESTAMPTZ), ?, ?, ?, 'sha')""",
            [oid, oid, mid, paid, paid_at, amount, refund, amount - refund],
        )
    for mid, seen, staff in MEMBERS:
        conn.execute(
            "INSERT INTO staging.members (member_id, is_staff, first_seen_at) VALUES (?, ?, CAST(? || '+08' AS TIMESTAMPTZ))",
            [mid, staff, seen],
        )
    msgs = [
        ("x1", "d1", "2026-11-11 10:00:00", False),
        ("x2", "m1", "2026-11-19 10:00:00", False),
        ("x3", "m2", "2026-11-19 10:00:00", False),
        ("x4", "d1", "2026-11-20 10:00:00", True),
    ]
    for mid_, sender, at, recalled in msgs:
        conn.execute(
            """INSERT INTO staging.messages (message_id, group_id, sender_member_id, sent_at, kind, is_recalled,
                   source_format) VALUES (?, 'g1', ?, CAST(? || '+08' AS TIMESTAMPTZ), 'text', ?, 'wechatmsg_chat')""",
            [mid_, sender, at, recalled],
        )
    if not marts:
        return
    conn.execute(
        "CREATE TABLE marts.group_vitality_weekly (group_id VARCHAR, week_start DATE, lifecycle_state VARCHAR, is_zombie BOOLEAN)"
    )
    conn.executemany(
        "INSERT INTO marts.group_vitality_weekly VALUES (?, ?, ?, ?)",
        [
            ("g1", W46, "active", False),
            ("g2", W46, "new", False),
            ("g3", W46, "dormant", False),
            ("g1", W47, "active", False),
            ("g2", W47, "declining", False),
            ("g3", W47, "zombie", True),
        ],
    )
    conn.execute(
        "CREATE TABLE marts.member_lifetime (member_id VARCHAR, role_level VARCHAR, l4_at DATE, "
        "predicted_clv_12m DECIMAL(18,2), as_of_date DATE)"
    )
    conn.executemany(
        "INSERT INTO marts.member_lifetime VALUES (?, ?, CAST(? AS DATE), ?, CAST(? AS DATE))",
        [
            ("d1", "L4", "2026-10-05", 500, as_of),
            ("m1", "L4", "2026-11-18", 300.25, as_of),
            ("m2", "L1", None, 100, as_of),
            ("m3", "L1", None, 0, as_of),
        ],
    )
    conn.execute(
        "CREATE TABLE marts.order_attribution (order_id VARCHAR, attributed_dac_group VARCHAR, "
        "attributed_dac_first_touch VARCHAR, attributed_dac_last_touch VARCHAR)"
    )
    conn.executemany(
        "INSERT INTO marts.order_attribution VALUES (?, ?, ?, ?)",
        [
            ("o1", "d1", "brand_direct", "brand_direct"),
            ("o2", "d1", "d1", "d1"),
            ("o6", "brand_direct", "brand_direct", "m1"),
            ("o5", "d1", "brand_direct", "brand_direct"),
        ],
    )


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    _build(c)
    yield c
    c.close()


def _row(df, week):
    rows = df.filter(df["week_start"] == week).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_kpis_for_one_week_match_hand_computed_values(conn):
    df = compute_weekly_kpis(conn, W47, W48)
    assert df["week_start"].to_list() == [W47]
    r = _row(df, W47)
    assert r["week_label"] == "2026-W47"
    assert float(r["gmv"]) == 180.0  # 100 + (80 − 30) + 30; o3 is Monday 00:30 Beijing → W48
    assert (r["orders"], r["buyers"]) == (3, 2)
    assert r["new_members"] == 1  # m2 (Beijing Monday 01:00); staff s1 excluded
    assert (r["active_groups"], r["zombie_groups"]) == (1, 1)
    assert r["new_dacs"] == 1  # m1 reached L4 in W47
    assert (
        r["active_dacs"] == 2
    )  # d1 through attributed orders (its message was recalled), m1 through a message
    assert float(r["gmv_attr_group"]) == 150.0
    assert float(r["gmv_attr_first_touch"]) == 50.0
    assert float(r["gmv_attr_last_touch"]) == 80.0
    assert r["predicted_clv_12m_base"] == pytest.approx(900.25)
    # week over week against W46: gmv 40, orders 1, buyers 1, new members 2, active groups 2, zombies 0, active 大C 1
    assert r["gmv_wow"] == pytest.approx(3.5)
    assert r["orders_wow"] == pytest.approx(2.0)
    assert r["buyers_wow"] == pytest.approx(1.0)
    assert r["new_members_wow"] == pytest.approx(-0.5)
    assert r["active_groups_wow"] == pytest.approx(-0.5)
    assert r["zombie_groups_wow"] is None  # last week 0: no ratio
    assert r["active_dacs_wow"] == pytest.approx(1.0)


def test_range_write_replaces_only_its_weeks_and_keeps_clv_history(conn):
    write_weekly_kpis(conn, W46, W49)
    got = conn.execute("SELECT week_start, gmv, orders FROM marts.weekly_kpis ORDER BY 1").fetchall()
    assert [(w, float(g), o) for w, g, o in got] == [(W46, 40.0, 1), (W47, 180.0, 3), (W48, 70.0, 1)]
    # tamper with W46, rebuild W47 only: W46 untouched, W47 recomputed
    conn.execute("UPDATE marts.weekly_kpis SET orders = 99 WHERE week_start = ?", [W46])
    conn.execute("UPDATE marts.weekly_kpis SET orders = 99 WHERE week_start = ?", [W47])
    # the CLV mart moves on to W48: W47 keeps its predicted base value, W48 gets the new one
    conn.execute(
        "UPDATE marts.member_lifetime SET as_of_date = DATE '2026-11-24', predicted_clv_12m = predicted_clv_12m * 2"
    )
    write_weekly_kpis(conn, W47, W49)
    got = dict(conn.execute("SELECT week_start, orders FROM marts.weekly_kpis").fetchall())
    assert got == {W46: 99, W47: 3, W48: 1}
    clv = dict(conn.execute("SELECT week_start, predicted_clv_12m_base FROM marts.weekly_kpis").fetchall())
    assert clv[W46] is None and float(clv[W47]) == 900.25 and float(clv[W48]) == 1800.5
    wow = conn.execute(
        "SELECT predicted_clv_12m_base_wow FROM marts.weekly_kpis WHERE week_start = ?", [W48]
    ).fetchone()[0]
    assert wow == pytest.approx(1.0)


def test_missing_marts_give_null_kpis_not_errors(tmp_path):
    c = duckdb.connect(str(tmp_path / "wh2.duckdb"))
    _build(c, marts=False)
    r = _row(compute_weekly_kpis(c, W47, W48), W47)
    assert float(r["gmv"]) == 180.0 and r["new_members"] == 1
    for k in (
        "active_groups",
        "zombie_groups",
        "active_dacs",
        "new_dacs",
        "predicted_clv_12m_base",
        "gmv_attr_group",
    ):
        assert r[k] is None, k
    c.close()


def test_long_attribution_layout_is_understood(tmp_path):
    c = duckdb.connect(str(tmp_path / "wh3.duckdb"))
    _build(c)
    c.execute("DROP TABLE marts.order_attribution")
    c.execute(
        "CREATE TABLE marts.order_attribution (order_id VARCHAR, method VARCHAR, dac_member_id VARCHAR)"
    )
    c.executemany(
        "INSERT INTO marts.order_attribution VALUES (?, ?, ?)",
        [
            ("o1", "group", "d1"),
            ("o2", "group", "d1"),
            ("o2", "last_touch", "d1"),
            ("o6", "last_touch", "m1"),
            ("o6", "group", "brand_direct"),
        ],
    )
    r = _row(compute_weekly_kpis(c, W47, W48), W47)
    assert float(r["gmv_attr_group"]) == 150.0 and float(r["gmv_attr_last_touch"]) == 80.0
    assert float(r["gmv_attr_first_touch"]) == 0.0
    c.close()


def test_range_must_be_mondays(conn):
    with pytest.raises(ValueError):
        compute_weekly_kpis(conn, dt.date(2026, 11, 17), W48)


def test_dac_counts_follow_the_dac_mart_when_it_is_built(conn):
    """With marts.dacs / dac_contribution_weekly present, 大C counts use the 大C mart's own definition."""
    conn.execute("CREATE TABLE marts.dacs (dac_id VARCHAR, dac_since DATE)")
    conn.executemany(
        "INSERT INTO marts.dacs VALUES (?, ?)",
        [("d1", dt.date(2026, 10, 5)), ("m1", dt.date(2026, 11, 18)), ("g_owner", dt.date(2026, 11, 22))],
    )
    conn.execute(
        "CREATE TABLE marts.dac_contribution_weekly (week_start DATE, dac_id VARCHAR, "
        "is_dac_this_week BOOLEAN, is_active BOOLEAN)"
    )
    conn.executemany(
        "INSERT INTO marts.dac_contribution_weekly VALUES (?, ?, ?, ?)",
        [
            (W47, "d1", True, True),
            (W47, "m1", True, False),
            (W47, "g_owner", True, True),
            (W47, "x", False, True),
            (W46, "d1", True, True),
        ],
    )
    r = _row(compute_weekly_kpis(conn, W47, W48), W47)
    assert r["new_dacs"] == 2  # m1 and the group owner g_owner
    assert r["active_dacs"] == 2  # d1 and g_owner; x is not yet a 大C, m1 idle
    assert r["active_dacs_wow"] == pytest.approx(1.0)


def test_metric_columns_carry_registry_comments(conn):
    write_weekly_kpis(conn, W47, W48)
    comments = dict(
        conn.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = 'weekly_kpis'"
        ).fetchall()
    )
    assert comments["gmv"].startswith("成交额 GMV / GMV")
    assert "WoW" in comments["buyers_wow"] and "credited to 大C" in comments["gmv_attr_last_touch"]


def test_asset_materialises_one_partition(tmp_path, monkeypatch):
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from assets.marts.weekly_kpis.asset import weekly_kpis
    from pipelines.resources import SettingsResource

    db = tmp_path / "wh.duckdb"
    c = duckdb.connect(str(db))
    _build(c)
    c.close()
    monkeypatch.setenv("XIAOSHUJU_HMAC_KEY", "test")
    result = dg.materialize(
        [weekly_kpis],
        partition_key="2026-11-16",
        resources={
            "warehouse": DuckDBResource(database=str(db)),
            "settings": SettingsResource(home=str(tmp_path)),
        },
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.passed
    c = duckdb.connect(str(db), read_only=True)
    assert c.execute("SELECT week_label, gmv, buyers FROM marts.weekly_kpis").fetchall() == [
        ("2026-W47", 180, 2)
    ]
    c.close()
