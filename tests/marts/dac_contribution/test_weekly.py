"""dac_contribution_weekly on hand-built brands: attribution sums, members served, referrals, retention, promotions."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from dac_fixtures import small_brand, tree_brand

from assets.marts.dac_contribution.attribution import build_dacs, build_order_attribution
from assets.marts.dac_contribution.tree import build_referral_tree
from assets.marts.dac_contribution.weekly import build_contribution_weekly

TZ = "Asia/Shanghai"
W1, W2 = date(2024, 11, 25), date(2024, 12, 2)
COLS = (
    "gmv_group, gmv_first_touch, gmv_last_touch, gmv_attributed_avg, attributed_orders, members_served, "
    "active_members, new_referrals, referee_first_orders, referral_value, referral_value_to_date, "
    "clv_referral_cell, rank, groups_owned, is_dac_this_week"
)


def build_all(wh, lo, hi):
    build_dacs(wh.conn, TZ)
    build_order_attribution(wh.conn, TZ, 0)
    build_referral_tree(wh.conn, TZ)
    return build_contribution_weekly(wh.conn, lo, hi, TZ)


def weekly(wh):
    rows = wh.q(f"SELECT week_start, dac_id, {COLS} FROM marts.dac_contribution_weekly ORDER BY 1, 2")
    return {(r[0], r[1]): dict(zip([c.strip() for c in COLS.split(",")], r[2:], strict=True)) for r in rows}


def test_weekly_contribution_small_brand(wh):
    small_brand(wh)
    assert build_all(wh, W1, W2 + timedelta(days=7)) == 4
    w = weekly(wh)
    d1, d2 = w[(W1, "d1")], w[(W1, "d2")]
    assert (d1["gmv_group"], d1["gmv_first_touch"], d1["gmv_last_touch"]) == (110, 100, 0)
    assert d1["gmv_attributed_avg"] == Decimal("70.00") and d1["attributed_orders"] == 2
    assert (d2["gmv_group"], d2["gmv_first_touch"], d2["gmv_last_touch"]) == (20, 20, 0)
    assert (d1["members_served"], d2["members_served"]) == (2, 2)  # d1: c1, c2 (in g1); d2: c1, c3
    assert (d1["active_members"], d2["active_members"]) == (1, 2)
    assert (d1["new_referrals"], d2["new_referrals"]) == (1, 1)
    assert (d1["referee_first_orders"], d2["referee_first_orders"]) == (1, 1)
    assert (d1["referral_value"], d2["referral_value"]) == (100, 20)
    assert (d1["clv_referral_cell"], d2["clv_referral_cell"]) == ("Advocates", "Misers")
    assert (d1["rank"], d2["rank"], d1["groups_owned"]) == (1, 2, 1)
    d1, d2 = w[(W2, "d1")], w[(W2, "d2")]
    assert (d1["gmv_group"], d1["gmv_first_touch"], d1["gmv_last_touch"]) == (50, 55, 50)
    assert (d2["gmv_group"], d2["gmv_first_touch"], d2["gmv_last_touch"]) == (5, 0, 30)
    assert (d1["members_served"], d2["members_served"]) == (1, 2)  # c2 left g1 during week 2
    assert (d1["active_members"], d2["active_members"]) == (1, 1)
    assert d1["referral_value_to_date"] == 155 and d1["new_referrals"] == 0


def test_weekly_sums_reconcile_with_attribution(wh):
    small_brand(wh)
    build_all(wh, W1, W2 + timedelta(days=7))
    for method in ("group", "first_touch", "last_touch"):
        per_week = wh.q(
            f"""SELECT a.week_start, sum(a.net_amount),
                       (SELECT coalesce(sum(gmv_{method}), 0) FROM marts.dac_contribution_weekly w
                        WHERE w.week_start = a.week_start)
                       + coalesce(sum(a.net_amount) FILTER (WHERE attributed_dac_{method} = 'brand_direct'), 0)
                FROM marts.order_attribution a GROUP BY 1"""
        )
        assert per_week and all(total == recon for _, total, recon in per_week), method


def test_partition_range_rewrites_only_its_weeks(wh):
    small_brand(wh)
    build_all(wh, W1, W2 + timedelta(days=7))
    wh.conn.execute("UPDATE marts.dac_contribution_weekly SET rank = 99 WHERE week_start = ?", [W1])
    assert build_contribution_weekly(wh.conn, W2, W2 + timedelta(days=7), TZ) == 2
    assert {
        r[0] for r in wh.q("SELECT rank FROM marts.dac_contribution_weekly WHERE week_start = ?", [W1])
    } == {99}
    assert wh.q("SELECT count(*) FROM marts.dac_contribution_weekly")[0][0] == 4


def test_retention_vs_brand(wh):
    wh.member("d1", "2024-10-01 00:00", role="L4", l4_at=date(2024, 10, 1))
    for m in ("b1", "b2", "b3"):
        wh.member(m, "2024-10-01 00:00")
    wh.group("g1", "d1", "2024-10-01 00:00")
    wh.membership("g1", "b1", "join", "2024-10-02 00:00")
    wh.membership("g1", "b2", "join", "2024-10-02 00:00")
    week = date(2024, 12, 30)  # w; prior window w-7..w-4, recent window w-3..w

    def buy(oid, m, weeks_before):
        d = week - timedelta(weeks=weeks_before) + timedelta(days=2)
        wh.order(oid, m, f"{d.isoformat()} 04:00", 10)

    buy("o1", "b1", 5), buy("o2", "b1", 1)  # retained
    buy("o3", "b2", 6)  # not retained
    buy("o4", "b3", 4), buy("o5", "b3", 2)  # retained, but not served by d1
    build_all(wh, week, week + timedelta(days=7))
    (row,) = wh.q(
        "SELECT member_retention, brand_retention, retention_vs_brand FROM marts.dac_contribution_weekly "
        "WHERE dac_id = 'd1'"
    )
    assert row == (pytest.approx(0.5), pytest.approx(2 / 3), pytest.approx(-1 / 6))


def test_promotions_credit_every_dac_above(wh):
    tree_brand(wh)  # d1 → a (L4 on 2024-12-03) → e
    build_all(wh, W1, date(2024, 12, 16))
    promo = wh.q(
        "SELECT week_start, dac_id, promotions FROM marts.dac_contribution_weekly WHERE promotions > 0"
    )
    assert promo == [(W2, "d1", 1)]
    # a becomes a 大C in week 2: rows for a start there
    assert wh.q("SELECT min(week_start) FROM marts.dac_contribution_weekly WHERE dac_id = 'a'")[0][0] == W2
