"""The 小c → 大C role ladder, home group and serving 大C on a hand-built brand."""

import datetime as dt

import pytest
from ml_fixtures import TZ, d

from assets.marts.member_lifetime import build


@pytest.fixture
def brand(wh):
    for m in (
        "dac1",
        "ref1",
        "seller1",
        "sellonly",
        "s1",
        "s2",
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
        "r6",
        "jleave",
    ):
        wh.member(m)
    # dac1 owns g1, which reaches 20 members (owner + 19) on 2025-01-20; jleave's join/leave must not count
    wh.group("g1", "dac1", "2025-01-01").join("g1", "dac1", "2025-01-01")
    wh.join("g1", "jleave", "2025-01-03").join("g1", "jleave", "2025-01-04", event="leave")
    for i in range(19):
        wh.member(f"j{i:02d}").join("g1", f"j{i:02d}", (d("2025-01-02") + dt.timedelta(days=i)).isoformat())
    # ref1: buyer, repeat buyer, then referees convert on 03-05, 04-01, 05-20, 06-10 (r3 only after as-of)
    wh.order("ref1", "2025-02-01", 30).order("ref1", "2025-02-10", 30)
    for r in ("r1", "r2", "r3", "r4", "r6"):
        wh.referral("ref1", r, "2025-03-01")
    wh.referral("ref1", "r5", "2025-05-01")
    wh.order("r1", "2025-03-05", 10).order("r2", "2025-04-01", 10).order("r3", "2025-07-10", 10)
    wh.order("r4", "2025-06-10", 10).order("r5", "2025-05-20", 10)
    wh.order("r6", "2025-02-15", 10)  # bought before being referred: not a conversion
    # ref2: three referees with a purchase in the 90 days up to 05-10 (q1 converted long before, bought again)
    for q in ("q1", "q2", "q3"):
        wh.member(q).referral("ref2", q, "2025-01-01")
    wh.member("ref2").order("q1", "2025-01-05", 10).order("q1", "2025-04-20", 10)
    wh.order("q2", "2025-04-01", 10).order("q3", "2025-05-10", 10)
    # seller1: own GMV 110 by 02-15 (one self-sold order does not count as attributed), attributed 110 by 03-01
    wh.order("seller1", "2025-01-10", 100).order("seller1", "2025-02-15", 10, seller="seller1")
    wh.order("s1", "2025-02-01", 60, seller="seller1").order("s2", "2025-03-01", 50, seller="seller1")
    wh.order("s1", "2025-03-02", 5, seller="sellonly")
    return wh


def rows(wh, th, as_of="2025-06-29"):
    build.build_clv_model(wh.conn, d(as_of), th, TZ)
    build.build_member_lifetime(wh.conn, th, TZ)
    cur = wh.conn.execute("SELECT * FROM marts.member_lifetime")
    names = [c[0] for c in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def levels(row):
    return row["role_level"], row["l1_at"], row["l2_at"], row["l3_at"], row["l4_at"]


def test_group_owner_reaches_l4_when_group_hits_20_members(brand, th):
    r = rows(brand, th)
    day = d("2025-01-20")
    assert levels(r["dac1"]) == ("L4", day, day, day, day)  # never bought, but the ladder is monotone


def test_referrer_ladder_with_90_day_window(brand, th):
    r = rows(brand, th)
    assert levels(r["ref1"]) == ("L4", d("2025-02-01"), d("2025-02-10"), d("2025-03-05"), d("2025-05-20"))
    assert r["ref1"]["referees_bought"] == 4
    # before r5 converts, the three conversions are 97 days apart: only L3
    r = rows(brand, th, as_of="2025-05-18")
    assert levels(r["ref1"])[0] == "L3" and r["ref1"]["l4_at"] is None


def test_referees_count_any_purchase_in_the_trailing_90_days(brand, th):
    r = rows(brand, th)
    assert levels(r["ref2"]) == ("L4", d("2025-01-05"), d("2025-01-05"), d("2025-01-05"), d("2025-05-10"))
    assert r["ref2"]["orders"] == 0


def test_attributed_gmv_rule_without_minimums(brand, th):
    from dataclasses import replace

    r = rows(brand, replace(th, l4_min_attributed_gmv=0.0, l4_min_buyers_served=1))
    assert levels(r["seller1"]) == ("L4", d("2025-01-10"), d("2025-02-15"), d("2025-03-01"), d("2025-03-01"))
    assert float(r["seller1"]["attributed_gmv"]) == 110.0 and r["seller1"]["buyers_served"] == 2
    assert r["seller1"]["l4_rule"] == "attributed_gmv"
    assert levels(r["sellonly"])[0] == "L4"  # sells for others, buys nothing: attributed 5 ≥ own 0


def test_attributed_gmv_rule_needs_the_default_minimums(brand, th):
    # defaults: ≥ 300 yuan attributed and ≥ 3 distinct buyers — one small sale or two buyers are not a 大C
    assert (th.l4_min_attributed_gmv, th.l4_min_buyers_served) == (300.0, 3)
    r = rows(brand, th)
    assert levels(r["seller1"]) == ("L2", d("2025-01-10"), d("2025-02-15"), None, None)
    assert float(r["seller1"]["attributed_gmv"]) == 110.0 and r["seller1"]["buyers_served"] == 2
    assert levels(r["sellonly"]) == ("L0", None, None, None, None) and r["sellonly"]["l4_rule"] is None
    assert float(r["sellonly"]["attributed_gmv"]) == 5.0 and r["sellonly"]["buyers_served"] == 1
    assert r["dac1"]["l4_rule"] == "group" and r["ref1"]["l4_rule"] == "referees"


@pytest.fixture
def seller_brand(wh):
    """sel buys 50 itself, then sells: b1 100 (02-01), b2 100 (02-10), b3 50 (03-01), b1 80 (03-10); a fully
    refunded sale to b4 (02-20) and a sale to an unidentified buyer (02-25, 40) add no buyer served.
    Cumulative attributed GMV / buyers served: 02-01 100/1, 02-10 200/2, 02-25 240/2, 03-01 290/3, 03-10 370/3.
    big buys 1000 itself and sells 400 to three buyers: attributed < own, never L4 by this rule.
    own1 sells 30 to c1 on 02-10 before owning a group, opens g_own1 on 03-01 and sells 20 to c2 on 03-05: as a
    group owner (团长) the minimums do not apply from 03-01, so own1 is L4 on 03-05 whatever they are."""
    for m in ("sel", "b1", "b2", "b3", "b4", "big", "c1", "c2", "c3", "own1"):
        wh.member(m)
    wh.order("sel", "2025-01-05", 50)
    wh.order("b1", "2025-02-01", 100, seller="sel").order("b2", "2025-02-10", 100, seller="sel")
    wh.order("b4", "2025-02-20", 70, refund=70, seller="sel").order(None, "2025-02-25", 40, seller="sel")
    wh.order("b3", "2025-03-01", 50, seller="sel").order("b1", "2025-03-10", 80, seller="sel")
    wh.order("big", "2025-01-05", 1000)
    for c in ("c1", "c2", "c3"):
        wh.order(c, "2025-02-01", 400 / 3, seller="big")
    wh.order("c1", "2025-02-10", 30, seller="own1").group("g_own1", "own1", "2025-03-01")
    wh.order("c2", "2025-03-05", 20, seller="own1")
    return wh


@pytest.mark.parametrize(
    ("min_gmv", "min_buyers", "expected"),
    [
        (300.0, 3, "2025-03-10"),  # the defaults: 370 yuan from 3 buyers on 03-10
        (250.0, 3, "2025-03-01"),  # third buyer on 03-01 (290 yuan)
        (200.0, 2, "2025-02-10"),  # 200 yuan from 2 buyers
        (240.0, 2, "2025-02-25"),  # the unidentified buyer's 40 yuan counts as GMV, not as a buyer
        (0.0, 4, None),  # the refunded sale to b4 serves no buyer: only 3
        (400.0, 1, None),  # never 400 yuan
    ],
)
def test_attributed_gmv_minimums(seller_brand, th, min_gmv, min_buyers, expected):
    from dataclasses import replace

    r = rows(seller_brand, replace(th, l4_min_attributed_gmv=min_gmv, l4_min_buyers_served=min_buyers))
    sel = r["sel"]
    assert sel["l4_at"] == (d(expected) if expected else None)
    assert sel["role_level"] == ("L4" if expected else "L1")
    assert float(sel["attributed_gmv"]) == 370.0 and sel["buyers_served"] == 3
    assert sel["l4_rule"] == ("attributed_gmv" if expected else None)
    assert r["big"]["role_level"] == "L1" and r["big"]["buyers_served"] == 3  # 400 attributed < 1000 own
    own1 = r["own1"]
    assert (own1["role_level"], own1["l4_at"], own1["l4_rule"]) == ("L4", d("2025-03-05"), "attributed_gmv")
    assert float(own1["attributed_gmv"]) == 50.0 and own1["buyers_served"] == 2


def test_plain_levels_home_group_and_serving_dac(brand, th):
    r = rows(brand, th)
    assert levels(r["r1"]) == ("L1", d("2025-03-05"), None, None, None)
    assert levels(r["j03"]) == ("L0", None, None, None, None)
    assert r["j03"]["home_group_id"] == "g1" and r["j03"]["serving_dac_id"] == "dac1"
    assert r["jleave"]["home_group_id"] == "g1"  # left, but it is the last group they were in
    assert r["s2"]["serving_dac_id"] == "seller1"  # no group: the seller on the latest order
    assert r["s1"]["serving_dac_id"] == "sellonly"
    assert r["r1"]["serving_dac_id"] == "ref1"  # no group, no seller: the referrer
    assert r["dac1"]["serving_dac_id"] is None  # owns their home group: served by the brand
    assert r["r3"]["orders"] == 0  # the purchase after the as-of date does not exist yet


def test_ladder_thresholds_are_configurable(brand, th):
    from dataclasses import replace

    r = rows(brand, replace(th, l4_min_group_members=25))
    assert r["dac1"]["role_level"] == "L0"
