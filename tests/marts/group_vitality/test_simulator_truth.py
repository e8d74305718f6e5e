"""End to end on the simulator (scale S, clean data): zombie detection and vitality score vs ground truth.

The acceptance figures at M come from ``python bench/bench_group_vitality.py --truth DIR --scale M``; at S there are
only ~30 groups (3 zombies), so this test guards the wiring and the direction of the numbers."""

import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from assets.marts.group_vitality.build import build_alerts, build_brand_weekly, build_survival, build_weekly
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import transaction

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


@pytest.mark.slow
def test_zombies_and_score_match_simulator_truth(xhome):
    import assets.landing as landing
    import assets.staging as staging
    from assets.marts.dac_contribution import attribution
    from assets.marts.dac_contribution import tables as dac_tables
    from bench.bench_group_vitality import evaluate_truth
    from xiaoshuju.simulator import simulate

    s = xhome
    simulate("S", seed=7, out_dir=s.inbox, truth_dir=s.ground_truth, defect_rate=0)
    resources = {"warehouse": DuckDBResource(database=str(s.warehouse)), "settings": SettingsResource(home=str(s.home))}
    assert dg.materialize([*landing.ASSETS, *staging.ASSETS], resources=resources).success
    conn = duckdb.connect(str(s.warehouse))
    try:
        dac_tables.ensure_tables(conn)
        with transaction(conn):
            attribution.build_dacs(conn, s.timezone)
            attribution.build_order_attribution(conn, s.timezone)
        build_weekly(conn, s.thresholds, s.timezone)
        build_brand_weekly(conn, s.timezone)
        build_alerts(conn)
        build_survival(conn, s.timezone)
        r = evaluate_truth(conn, s.ground_truth, s.timezone)
    finally:
        conn.close()
    print(r)
    assert r["groups_in_mart"] == r["groups_truth"] > 0
    assert r["precision"] >= 0.95
    assert r["recall_detectable"] >= 0.95  # zombies silent ≥ 21 days before the data ends
    assert r["date_within_7d"] >= 0.9
    assert r["spearman_score_after_first_week"] >= 0.7
