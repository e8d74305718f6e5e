"""Concentration (Gini, half-GMV count, top-20% share) and alerts (silent top-quarter 大C, new 大C)."""

from datetime import date, datetime, timedelta

import pytest
from dac_fixtures import small_brand

from assets.marts.dac_contribution.attribution import build_dacs, build_order_attribution
from assets.marts.dac_contribution.tree import build_referral_tree
from assets.marts.dac_contribution.weekly import (
    build_alerts,
    build_concentration_weekly,
    build_contribution_weekly,
)

TZ = "Asia/Shanghai"


def build(wh, lo, hi):
    build_dacs(wh.conn, TZ)
    build_order_attribution(wh.conn, TZ, 0)
    build_referral_tree(wh.conn, TZ)
    build_contribution_weekly(wh.conn, lo, hi, TZ)
    build_concentration_weekly(wh.conn, lo, hi)
    return build_alerts(wh.conn, lo, hi, TZ, 7, 28)


def conc(wh, week, method):
    return wh.q(
        "SELECT dacs, total_gmv, dac_gmv, brand_direct_gmv, gini, dacs_for_half_gmv, top20_share "
        "FROM marts.dac_concentration_weekly WHERE week_start = ? AND method = ?",
        [week, method],
    )[0]


def dac_sales(wh, amounts):
    week = date(2024, 12, 2)
    for i, amount in enumerate(amounts):
        d = f"d{i}"
        wh.member(d, "2024-11-01 00:00", role="L4", l4_at=date(2024, 11, 1))
        wh.member(f"b{i}", "2024-11-01 00:00")
        wh.group(f"g{i}", d, "2024-11-01 00:00")
        if amount:
            wh.order(f"o{i}", f"b{i}", "2024-12-03 04:00", amount, seller=d)
    return week


def test_gini_all_equal_is_zero(wh):
    week = dac_sales(wh, [50, 50, 50, 50])
    build(wh, week, week + timedelta(days=7))
    dacs, total, to_dacs, bd, gini, half, top20 = conc(wh, week, "last_touch")
    assert (dacs, float(total), float(to_dacs), float(bd)) == (4, 200.0, 200.0, 0.0)
    assert gini == pytest.approx(0.0, abs=1e-12)
    assert half == 2 and top20 == pytest.approx(0.25)  # ceil(20% of 4) = 1 大C
    _, total, to_dacs, bd, gini, half, _ = conc(wh, week, "group")
    assert (float(to_dacs), float(bd), gini, half) == (0.0, 200.0, None, None)


def test_gini_one_takes_all(wh):
    week = dac_sales(wh, [0, 0, 0, 0, 90])
    build(wh, week, week + timedelta(days=7))
    _, _, _, _, gini, half, top20 = conc(wh, week, "last_touch")
    assert gini == pytest.approx(4 / 5) and half == 1 and top20 == pytest.approx(1.0)


def test_concentration_small_brand(wh):
    small_brand(wh)
    week = date(2024, 11, 25)
    build(wh, week, week + timedelta(days=7))
    dacs, total, to_dacs, bd, gini, half, top20 = conc(wh, week, "group")  # d1 110, d2 20
    assert (dacs, float(total), float(to_dacs), float(bd)) == (2, 130.0, 130.0, 0.0)
    assert gini == pytest.approx(0.5 * 90 / 130) and half == 1 and top20 == pytest.approx(110 / 130)
    _, total, to_dacs, bd, *_ = conc(wh, week, "last_touch")
    assert (float(to_dacs), float(bd)) == (0.0, 130.0)


def test_silent_top_quarter_and_new_dac_alerts(wh):
    week = date(2025, 1, 27)  # week end: 2025-02-02 16:00 UTC
    for d in ("d1", "d2", "d3"):
        wh.member(d, "2024-09-01 00:00", role="L4", l4_at=date(2024, 10, 1))
        wh.group(f"g_{d}", d, "2024-09-01 00:00")
    wh.member("d4", "2024-09-01 00:00", role="L4", l4_at=date(2025, 1, 29))
    wh.member("b4", "2024-09-01 00:00")
    wh.order("o4", "b4", "2025-02-01 02:00", 10, seller="d4")  # d4 sells: an L4 who acts as a 大C
    for k in range(4, 12):  # weeks w-11 .. w-4
        day = datetime.combine(week - timedelta(weeks=k), datetime.min.time()) + timedelta(days=1, hours=4)
        for _ in range(3):
            wh.message("g", "d1", day.strftime("%Y-%m-%d %H:%M"))
        wh.message("g", "d2", day.strftime("%Y-%m-%d %H:%M"))
    wh.message("g", "d3", "2024-11-19 04:00")  # activity 1, silent for months: not an alert
    wh.message("g", "d1", "2025-01-10 04:00")  # d1's last activity: 23 days before week end
    wh.message("g", "d2", "2025-02-01 04:00")  # d2 active yesterday
    wh.message("g", "d2", "2025-02-15 04:00")  # the data runs two weeks past the week
    build(wh, week, week + timedelta(days=7))
    rows = wh.q(
        "SELECT dac_id, alert_type, silent_days, activity_8w, reason_en, reason_zh FROM marts.dac_alerts "
        "ORDER BY dac_id"
    )
    assert [r[:4] for r in rows] == [("d1", "silent_top_dac", 23, 24), ("d4", "new_dac", None, None)]
    # (d4's own attributed order does not make it "silent", and it has no prior activity to be top-quarter)
    assert "silent for 23 days" in rows[0][4] and "已沉默 23 天" in rows[0][5]
    assert "reached L4 on 2025-01-29" in rows[1][4]
    # two weeks later (as of the newest data, 2025-02-15) d1 has been silent 36 days (> 28): no alert
    build_alerts(wh.conn, week + timedelta(days=14), week + timedelta(days=21), TZ, 7, 28)
    assert (
        wh.q("SELECT count(*) FROM marts.dac_alerts WHERE week_start = ?", [week + timedelta(days=14)])[0][0]
        == 0
    )


def test_running_week_measures_silence_to_the_newest_data(wh):
    """The current week's partition exists before the week ends: silence counts to the data's end, not the future."""
    wh.member("d1", "2024-09-01 00:00", role="L4", l4_at=date(2024, 10, 1))
    wh.member("d2", "2024-09-01 00:00", role="L4", l4_at=date(2024, 10, 1))
    for d in ("d1", "d2"):
        wh.group(f"g_{d}", d, "2024-09-01 00:00")
    week = date(2025, 1, 27)
    for k in range(0, 12):
        day = datetime.combine(week - timedelta(weeks=k), datetime.min.time()) + timedelta(hours=2)
        for _ in range(5):
            wh.message("g", "d1", day.strftime("%Y-%m-%d %H:%M"))
    wh.message("g", "d2", "2024-11-20 04:00")
    # the newest data is Monday 2025-01-27 02:00 UTC, when d1 was active; the running week starts 2025-02-03:
    # measured to that week's end d1 would look silent for 13 days
    running = week + timedelta(days=7)
    build(wh, running, running + timedelta(days=7))
    assert wh.q("SELECT count(*) FROM marts.dac_alerts WHERE alert_type = 'silent_top_dac'")[0][0] == 0
    (active,) = wh.q("SELECT count(*) FROM marts.dac_contribution_weekly WHERE week_start = ?", [running])[0]
    assert active == 2
