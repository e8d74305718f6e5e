"""The Dagster shells materialise on a hand-built warehouse and report their checks."""

import dagster as dg
from dac_fixtures import small_brand
from dagster_duckdb import DuckDBResource

from assets.marts.dac_contribution import ASSETS
from pipelines.resources import SettingsResource


def resources(tmp_path):
    return {
        "warehouse": DuckDBResource(database=str(tmp_path / "warehouse.duckdb")),
        "settings": SettingsResource(home=str(tmp_path / "home")),
    }


def test_unpartitioned_assets_materialise_and_checks_pass(wh, tmp_path, monkeypatch):
    monkeypatch.setenv("XIAOSHUJU_HMAC_KEY", "test")
    small_brand(wh)
    wh.referral("c2", "x", "2024-11-27 00:00")  # x→c2→x: a referral cycle
    wh.conn.close()
    unpartitioned = [a for a in ASSETS if not a.partitions_def]
    result = dg.materialize(unpartitioned, resources=resources(tmp_path))
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["order_attribution_reconciles"] is True
    assert checks["referral_input_clean"] is False  # self-referral + cycle reported (WARN)


def test_weekly_assets_materialise_a_partition_range(wh, tmp_path, monkeypatch):
    from pipelines.partitions import range_tags

    monkeypatch.setenv("XIAOSHUJU_HMAC_KEY", "test")
    small_brand(wh)
    wh.conn.close()
    res = resources(tmp_path)
    assert dg.materialize([a for a in ASSETS if not a.partitions_def], resources=res).success
    partitioned = [a for a in ASSETS if a.partitions_def]
    result = dg.materialize(partitioned, resources=res, tags=range_tags("2024-11-25", "2024-12-02"))
    assert result.success
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()} == {
        "dac_weekly_reconciles": True
    }
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        weeks = conn.execute(
            "SELECT week_start, count(*) FROM marts.dac_contribution_weekly GROUP BY 1 ORDER BY 1"
        )
        assert [r[1] for r in weeks.fetchall()] == [2, 2]
        assert conn.execute("SELECT count(*) FROM marts.dac_concentration_weekly").fetchone()[0] == 8
        assert (
            conn.execute("SELECT count(*) FROM marts.dac_alerts WHERE alert_type = 'new_dac'").fetchone()[0]
            == 1
        )
