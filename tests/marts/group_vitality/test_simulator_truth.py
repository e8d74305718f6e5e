"""End to end on the simulator: zombie detection and vitality score of the shared demo run (`xiaoshuju demo`,
scale S, seed 7, every asset) vs its ground truth.

The acceptance figures at M come from ``python bench/bench_group_vitality.py --truth DIR --scale M``; at S there are
only a few dozen groups (a handful of zombies), so this test guards the wiring and the direction of the numbers."""

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


@pytest.mark.slow
def test_zombies_and_score_match_simulator_truth(demo_home):
    from bench.bench_group_vitality import evaluate_truth
    from xiaoshuju.settings import load_settings

    s = load_settings(demo_home)
    conn = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        r = evaluate_truth(conn, s.ground_truth, s.timezone, s.thresholds.zombie_silence_days)
    finally:
        conn.close()
    print(r)
    assert r["groups_in_mart"] == r["groups_truth"] > 0
    assert r["zombies_truth"] > 0
    assert r["precision"] >= 0.95
    # zombies silent ≥ 21 days before the data ends whose members had spoken or bought before they died
    assert r["recall_comparable"] >= 0.95
    assert r["date_within_7d"] >= 0.9
    assert r["spearman_score_after_first_week"] >= 0.7
