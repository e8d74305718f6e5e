"""Each attribution method on a hand-built brand, plus reconciliation."""

from datetime import date
from decimal import Decimal

import pytest
from dac_fixtures import small_brand

from assets.marts.dac_contribution.attribution import (
    attribution_reconciliation,
    build_dacs,
    build_order_attribution,
    l4_not_dac,
)

TZ = "Asia/Shanghai"


def attribution(wh):
    rows = wh.conn.execute(
        "SELECT order_id, group_id, attributed_dac_group, attributed_dac_first_touch, attributed_dac_last_touch, "
        "first_touch_dac_id, week_start FROM marts.order_attribution ORDER BY order_id"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_dacs_are_group_owners_and_l4_sellers(wh):
    small_brand(wh)
    wh.member("k", "2024-11-01 00:00", role="L4", l4_at=date(2024, 11, 10))  # L4 by referrals only: not a 大C
    wh.member("s", "2024-11-01 00:00", role="L4", l4_at=date(2024, 11, 12))  # L4 and sells to others: a 大C
    wh.member(
        "t", "2024-11-01 00:00", role="L4", l4_at=date(2024, 11, 12)
    )  # L4 "selling" only to itself: not
    wh.order("os", "c4", "2024-11-30 00:00", 12, seller="s")
    wh.order("ot", "t", "2024-11-30 00:00", 12, seller="t")
    assert build_dacs(wh.conn, TZ) == 3
    rows = wh.q(
        "SELECT dac_id, is_l4, is_group_owner, is_seller, dac_since, groups_owned FROM marts.dacs ORDER BY 1"
    )
    assert rows == [
        ("d1", True, True, True, date(2024, 11, 20), 1),
        ("d2", False, True, True, date(2024, 11, 26), 1),
        ("s", True, False, True, date(2024, 11, 12), 0),
    ]
    assert l4_not_dac(wh.conn) == 2


def test_first_binding_prefers_reliable_evidence(wh):
    small_brand(wh)
    # an earlier 分销员 binding to d2 loses against d1's explicit invite record for c1
    wh.conn.execute(
        "INSERT INTO staging.referrals VALUES ('d2', 'c1', TIMESTAMPTZ '2024-11-01 00:00:00+00', "
        "'distributor_binding', NULL, 'test', NULL)"
    )
    build_dacs(wh.conn, TZ)
    build_order_attribution(wh.conn, TZ, 0)
    assert attribution(wh)["o1"][2] == "d1"


def test_three_attribution_methods(wh):
    small_brand(wh)
    build_dacs(wh.conn, TZ)
    assert build_order_attribution(wh.conn, TZ, 0) == 6
    a = attribution(wh)
    assert "o5" not in a
    assert a["o1"][:5] == ("g1", "d1", "d1", "brand_direct", "d1")
    assert a["o2"][:4] == ("g1", "d1", "d1", "d1")
    assert a["o3"][:5] == (None, "brand_direct", "brand_direct", "d2", "x")  # x is no 大C
    assert a["o4"][:5] == ("g2", "d2", "d2", "brand_direct", "d2")  # self-referral ignored
    assert a["o6"][:2] == ("g1", "d1")
    assert a["o8"][:2] == ("g2", "d2")
    # weeks are Monday-based in Beijing time: 2024-12-01 20:00 UTC is Monday 2024-12-02 04:00 BJT
    assert a["o2"][5] == date(2024, 12, 2)
    assert a["o1"][5] == date(2024, 11, 25)


def test_first_touch_window(wh):
    small_brand(wh)
    build_dacs(wh.conn, TZ)
    build_order_attribution(wh.conn, TZ, 3)  # binding d1→c1 at 11-25 10:00 covers orders until 11-28 10:00
    a = attribution(wh)
    assert a["o1"][2] == "d1"
    assert a["o2"][2] == "brand_direct"
    assert a["o8"][2] == "brand_direct"


@pytest.mark.parametrize("window", [0, 3])
def test_attribution_reconciles(wh, window):
    small_brand(wh)
    build_dacs(wh.conn, TZ)
    build_order_attribution(wh.conn, TZ, window)
    rec = {r["method"]: r for r in attribution_reconciliation(wh.conn)}
    assert all(r["ok"] for r in rec.values())
    assert rec["group"]["total_gmv"] == 215.0
    assert rec["group"]["brand_direct_gmv"] == 30.0
    assert rec["last_touch"]["dac_gmv"] == 80.0
    assert rec["first_touch"]["dac_gmv"] == (175.0 if window == 0 else 120.0)


def test_reconciliation_detects_lost_order(wh):
    small_brand(wh)
    build_dacs(wh.conn, TZ)
    build_order_attribution(wh.conn, TZ, 0)
    wh.conn.execute("DELETE FROM marts.order_attribution WHERE order_id = 'o3'")
    assert not any(r["ok"] for r in attribution_reconciliation(wh.conn))
    assert wh.q("SELECT sum(net_amount) FROM marts.order_attribution")[0][0] == Decimal("185.00")


def test_old_table_layout_is_rebuilt(wh):
    from assets.marts.dac_contribution.tables import ensure_tables

    wh.conn.execute("DROP TABLE marts.dacs")
    wh.conn.execute("CREATE TABLE marts.dacs (dac_id VARCHAR PRIMARY KEY, is_l4 BOOLEAN)")  # an older layout
    ensure_tables(wh.conn)
    cols = [
        r[0]
        for r in wh.q(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
            "AND table_name = 'dacs' ORDER BY column_index"
        )
    ]
    assert "is_seller" in cols and "dac_since" in cols
    assert (
        wh.q(
            "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = 'marts' AND table_name = 'dacs' "
            "AND constraint_type = 'PRIMARY KEY'"
        )[0][0]
        == 0
    )
    comment = wh.q(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = "
        "'dac_contribution_weekly' AND column_name = 'gmv_group'"
    )[0][0]
    assert comment.startswith("社群归因成交额 / GMV by group")
