"""Referral forest: structural virality (linear time), breadth/depth, cycles, K-factor, cycle time."""

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from dac_fixtures import tree_brand
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from assets.marts.dac_contribution.attribution import build_dacs
from assets.marts.dac_contribution.tree import (
    build_forest,
    build_referral_tree,
    build_tree_stats,
    structural_virality,
    subtree_sizes,
)

TZ = "Asia/Shanghai"


def edges(pairs):
    """pairs of (referrer, referee); binding times increase with position."""
    return pl.DataFrame(
        {
            "member_id": [b for _, b in pairs],
            "referrer_id": [a for a, _ in pairs],
            "referred_at": [datetime(2024, 1, 1) + timedelta(hours=i) for i in range(len(pairs))],
        }
    )


def sv_of(forest, member):
    return structural_virality(forest)[np.searchsorted(forest.ids, member)]


@pytest.mark.parametrize("n", [2, 3, 5, 10, 40])
def test_star_and_chain_structural_virality(n):
    star = build_forest(edges([("r", f"s{i:03d}") for i in range(n - 1)]))
    assert sv_of(star, "r") == pytest.approx(2 * (n - 1) / n)
    chain_pairs = [("r" if i == 0 else f"c{i - 1:03d}", f"c{i:03d}") for i in range(n - 1)]
    chain = build_forest(edges(chain_pairs))
    assert sv_of(chain, "r") == pytest.approx((n + 1) / 3)
    assert chain.depth.max() == n - 1
    assert (star.depth.max(), np.bincount(star.depth).max()) == (1, n - 1)


def test_structural_virality_equals_all_pairs_mean_on_random_forest():
    rng = np.random.default_rng(3)
    pairs = []
    for t in range(4):  # four random trees
        size = int(rng.integers(2, 60))
        for i in range(1, size):
            pairs.append((f"t{t}_{int(rng.integers(0, i)):03d}", f"t{t}_{i:03d}"))
    forest = build_forest(edges(pairs))
    n = len(forest.ids)
    child = np.flatnonzero(forest.parent >= 0)
    adj = csr_matrix((np.ones(len(child)), (child, forest.parent[child])), shape=(n, n))
    dist = shortest_path(adj, directed=False, unweighted=True)
    sv = structural_virality(forest)
    for r in np.flatnonzero(forest.parent < 0):
        members = np.flatnonzero(forest.root == r)
        block = dist[np.ix_(members, members)]
        k = len(members)
        assert sv[r] == pytest.approx(block.sum() / (k * (k - 1)))


def test_long_chain_is_not_recursive_or_quadratic():
    n = 20_000
    forest = build_forest(edges([(f"m{i:06d}", f"m{i + 1:06d}") for i in range(n - 1)]))
    assert forest.depth.max() == n - 1
    assert subtree_sizes(forest.parent, forest.depth).max() == n
    assert sv_of(forest, "m000000") == pytest.approx((n + 1) / 3)


def test_cycle_is_detected_and_cut_at_latest_edge():
    # a→b (day 1), b→c (day 2), c→a (day 3, closes the loop), a→d (day 4)
    forest = build_forest(edges([("a", "b"), ("b", "c"), ("c", "a"), ("a", "d")]))
    an = forest.anomalies.sort("member_id")
    assert an["member_id"].to_list() == ["a", "b", "c"]
    assert an["edge_dropped"].to_list() == [True, False, False]
    assert set(an["cycle_length"].to_list()) == {3}
    assert set(an["cycle_id"].to_list()) == {"a"}
    idx = {m: i for i, m in enumerate(forest.ids)}
    assert forest.parent[idx["a"]] == -1
    assert {m: int(forest.depth[idx[m]]) for m in "abcd"} == {"a": 0, "b": 1, "c": 2, "d": 1}
    assert set(forest.root.tolist()) == {idx["a"]}


def test_two_cycles_and_a_tail():
    # x↔y (2-cycle), p→q→r→p (3-cycle), z hangs off y
    forest = build_forest(edges([("x", "y"), ("y", "x"), ("p", "q"), ("q", "r"), ("r", "p"), ("y", "z")]))
    an = forest.anomalies
    assert sorted(an["member_id"].to_list()) == ["p", "q", "r", "x", "y"]
    assert an.filter(pl.col("edge_dropped"))["member_id"].sort().to_list() == ["p", "x"]
    assert (forest.parent >= 0).sum() == 4  # 6 edges, 2 cut


def test_tree_tables_kfactor_and_cycle_time(wh):
    tree_brand(wh)
    build_dacs(wh.conn, TZ)
    info = build_referral_tree(wh.conn, TZ)
    assert info["nodes"] == 5 and info["self_referrals"] == 1 and info["cycles"] == 0
    rows = wh.q(
        "SELECT member_id, parent_id, root_dac_id, generation, join_date, is_dac FROM marts.referral_tree "
        "ORDER BY member_id"
    )
    assert [r[:4] for r in rows] == [
        ("a", "d1", "d1", 1),
        ("b", "d1", "d1", 1),
        ("c", "d1", "d1", 1),
        ("d1", None, "d1", 0),
        ("e", "a", "d1", 2),
    ]
    assert rows[0][4] == datetime(2024, 11, 5).date() and rows[0][5] is True
    assert wh.q("SELECT kind, member_id, edge_dropped FROM marts.referral_anomalies") == [
        ("self_referral", "x", True)
    ]
    build_tree_stats(wh.conn, TZ, 28)
    (stats,) = wh.q(
        "SELECT root_dac_id, root_is_dac, tree_size, tree_depth, max_breadth, structural_virality, k_factor, "
        "cycle_time_days, promoted_dacs, downline_gmv FROM marts.referral_tree_stats"
    )
    # distances: d1-a,b,c 1; d1-e 2; a-b,a-c,b-c 2; a-e 1; b-e,c-e 3 → 18 over 10 pairs
    assert stats[:5] == ("d1", True, 5, 2, 3)
    assert stats[5] == pytest.approx(1.8)
    assert stats[6] == pytest.approx(3 / 5)  # d1 brought 2 within 28 days, a brought 1; 5 members
    assert stats[7] == pytest.approx(12.0)  # median of 4, 19, 44, 5 days
    assert stats[8] == 1 and float(stats[9]) == 70.0
    assert wh.q(
        "SELECT generation, members, buyers, downline_gmv FROM marts.referral_generation_gmv "
        "ORDER BY generation"
    ) == [(1, 3, 0, 0), (2, 1, 1, 70)]
    cohorts = wh.q(
        "SELECT cohort_month, cohort_members, referees_28d, k_factor, cohort_complete "
        "FROM marts.referral_kfactor_cohort ORDER BY 1"
    )
    assert cohorts == [
        (datetime(2024, 11, 1).date(), 5, 3, pytest.approx(0.6), True),
        (datetime(2024, 12, 1).date(), 1, 0, 0.0, True),
    ]
