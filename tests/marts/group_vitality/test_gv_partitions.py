"""Weekly partitions: a rebuild of one week touches only that week; a backfill over all weeks equals a full build."""

import datetime as dt
import random

import dagster as dg
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource
from gv_fixtures import bj, msg, new_db, random_brand

from assets.marts.group_vitality import ASSETS
from assets.marts.group_vitality.build import build_alerts, build_brand_weekly, build_weekly
from pipelines.partitions import range_tags
from pipelines.resources import SettingsResource
from xiaoshuju.settings import Thresholds

ORDER = ["group_id", "week_start"]


def table(conn, name="marts.group_vitality_weekly", order=ORDER) -> pd.DataFrame:
    return conn.execute(f"SELECT * FROM {name} ORDER BY {', '.join(order)}").df()


@pytest.fixture
def brand_db(tmp_path):
    conn = new_db(tmp_path / "wh.duckdb")
    random_brand(conn)
    yield conn
    conn.close()


def _weeks(conn) -> list[dt.date]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT week_start FROM marts.group_vitality_weekly ORDER BY 1").fetchall()]


def test_backfill_week_by_week_in_any_order_equals_full_build(brand_db):
    conn = brand_db
    build_weekly(conn, Thresholds())
    full = table(conn)
    weeks = _weeks(conn)
    assert len(weeks) >= 12 and full.is_zombie.any() and (full.lifecycle_state == "declining").any()
    assert full.member_questions.sum() > 0 and full.buyers.sum() > 0
    conn.execute("DELETE FROM marts.group_vitality_weekly")
    random.Random(3).shuffle(weeks)
    for w in weeks:
        build_weekly(conn, Thresholds(), week_from=w, week_to=w + dt.timedelta(days=7))
    pd.testing.assert_frame_equal(table(conn), full)


def test_backfill_as_one_range_equals_full_build(brand_db):
    conn = brand_db
    build_weekly(conn, Thresholds())
    full = table(conn)
    weeks = _weeks(conn)
    conn.execute("DELETE FROM marts.group_vitality_weekly")
    mid = weeks[len(weeks) // 2]
    build_weekly(conn, Thresholds(), week_from=weeks[0], week_to=mid)
    build_weekly(conn, Thresholds(), week_from=mid, week_to=weeks[-1] + dt.timedelta(days=7))
    pd.testing.assert_frame_equal(table(conn), full)


def test_rebuilding_one_week_touches_only_that_week(brand_db):
    conn = brand_db
    build_weekly(conn, Thresholds())
    before = table(conn)
    weeks = _weeks(conn)
    target = weeks[5]
    # a new member message in the target week (Wednesday noon, Beijing)
    msg(conn, "g01", "g01_m00", f"{target + dt.timedelta(days=2)} 12:00")
    res = build_weekly(conn, Thresholds(), week_from=target, week_to=target + dt.timedelta(days=7))
    after = table(conn)
    n_target = int((before.week_start.dt.date == target).sum())
    assert res.rows_deleted == res.rows_inserted == n_target
    others_before = before[before.week_start.dt.date != target].reset_index(drop=True)
    others_after = after[after.week_start.dt.date != target].reset_index(drop=True)
    pd.testing.assert_frame_equal(others_after, others_before)
    row = lambda df: df[(df.group_id == "g01") & (df.week_start.dt.date == target)].iloc[0]  # noqa: E731
    assert row(after).messages == row(before).messages + 1


def test_brand_and_alert_partitions_equal_full_build(brand_db):
    conn = brand_db
    build_weekly(conn, Thresholds())
    build_brand_weekly(conn)
    build_alerts(conn)
    brand, alerts = table(conn, "marts.group_brand_weekly", ["week_start"]), table(conn, "marts.group_alerts", ORDER)
    assert len(alerts) > 0
    weeks = _weeks(conn)
    conn.execute("DELETE FROM marts.group_brand_weekly; DELETE FROM marts.group_alerts")
    for w in weeks:
        build_brand_weekly(conn, week_from=w, week_to=w + dt.timedelta(days=7))
        build_alerts(conn, week_from=w, week_to=w + dt.timedelta(days=7))
    pd.testing.assert_frame_equal(table(conn, "marts.group_brand_weekly", ["week_start"]), brand)
    pd.testing.assert_frame_equal(table(conn, "marts.group_alerts", ORDER), alerts)


def test_dagster_range_run_equals_full_build(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("XIAOSHUJU_HOME", str(home))
    db = home / "warehouse.duckdb"
    home.mkdir()
    conn = new_db(db)
    random_brand(conn)
    build_weekly(conn, Thresholds())
    full = table(conn)
    conn.execute("DELETE FROM marts.group_vitality_weekly")
    conn.close()
    first = full.week_start.min().date()
    last = full.week_start.max().date()
    resources = {"warehouse": DuckDBResource(database=str(db)), "settings": SettingsResource(home=str(home))}
    result = dg.materialize(ASSETS, resources=resources, selection=[
        "marts/group_vitality_weekly", "marts/group_brand_weekly", "marts/group_alerts"],
        tags=range_tags(str(first), str(last)))
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    result = dg.materialize(ASSETS, resources=resources, selection=["marts/group_survival"])
    assert result.success
    import duckdb

    conn = duckdb.connect(str(db))
    try:
        pd.testing.assert_frame_equal(table(conn), full)
        assert conn.execute("SELECT count(*) FROM marts.group_brand_weekly").fetchone()[0] == full.week_start.nunique()
        assert conn.execute("SELECT count(*) FROM marts.group_survival WHERE cohort = 'all'").fetchone()[0] > 1
    finally:
        conn.close()


def test_empty_warehouse_builds_empty_tables(tmp_path):
    conn = new_db(tmp_path / "empty.duckdb")
    res = build_weekly(conn, Thresholds())
    assert res.rows_inserted == 0 and res.as_of is None
    assert build_brand_weekly(conn) == 0 and build_alerts(conn) == 0
    res = build_weekly(conn, Thresholds(), week_from=bj("2026-01-05 00:00").date(), week_to=dt.date(2026, 1, 12))
    assert res.rows_inserted == 0


def test_fixed_offset_week_arithmetic_equals_time_zone_conversion(brand_db, monkeypatch):
    from assets.marts.group_vitality import build

    conn = brand_db
    assert build.fixed_utc_offset("Asia/Shanghai", dt.date(2025, 1, 6), dt.date(2026, 12, 28)) == 8 * 3600
    assert build.fixed_utc_offset("Europe/Berlin", dt.date(2025, 1, 6), dt.date(2025, 6, 30)) is None
    build_weekly(conn, Thresholds())
    fast = table(conn)
    monkeypatch.setattr(build, "fixed_utc_offset", lambda *a: None)
    build_weekly(conn, Thresholds())
    pd.testing.assert_frame_equal(table(conn), fast)
