"""Referral forest and its fission metrics, vectorised (numpy pointer doubling, no recursion).

Every referee keeps only the first binding (earliest referral), so each member has at most one parent and the
input is a functional graph: a forest, possibly with cycles in dirty data. Cycles are found with pointer doubling
(O(n log n)) and broken by cutting the loop's latest edge; self-referrals never become edges. Subtree sizes come
from one pass per generation (O(n) work), which gives structural virality in linear time:
    mean distance = Σ_edges s·(n−s) · 2 / (n(n−1))     (s = size of the subtree below the edge)
No multi-level payout is derived from any of this.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from assets.marts.dac_contribution.attribution import FIRST_BINDING_SQL


@dataclass
class Forest:
    ids: np.ndarray  # member ids (object array), sorted; index = node number
    parent: np.ndarray  # int64, -1 for a root (after cycle cuts)
    root: np.ndarray  # int64 node number of the root
    depth: np.ndarray  # int64 generation (0 = root)
    anomalies: pl.DataFrame  # kind, member_id, referrer_member_id, cycle_id, cycle_length, edge_dropped


def _ancestors_by_doubling(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(far ancestor, distance) after enough doublings to reach the root of any tree node.

    Nodes in, or leading into, a cycle end on a cycle node (whose parent is not -1)."""
    n = len(parent)
    idx = np.arange(n, dtype=np.int64)
    jump = np.where(parent >= 0, parent, idx)
    dist = (parent >= 0).astype(np.int64)
    for _ in range(int(np.ceil(np.log2(n + 1))) + 1):
        new_jump = jump[jump]
        dist = dist + dist[jump]
        if np.array_equal(new_jump, jump):
            break
        jump = new_jump
    return jump, dist


def _break_cycles(
    ids: np.ndarray, parent: np.ndarray, edge_time: np.ndarray
) -> tuple[np.ndarray, pl.DataFrame]:
    """Cut the latest edge on every cycle; return the new parent array and one anomaly row per cycle node."""
    jump, _ = _ancestors_by_doubling(parent)
    affected = parent[jump] >= 0
    empty = pl.DataFrame(
        schema={
            "kind": pl.Utf8,
            "member_id": pl.Utf8,
            "referrer_member_id": pl.Utf8,
            "cycle_id": pl.Utf8,
            "cycle_length": pl.Int32,
            "edge_dropped": pl.Boolean,
        }
    )
    if not affected.any():
        return parent, empty
    # With 2^k ≥ n jumps, a node in or leading into a cycle lands on the cycle, and the cycle maps onto itself.
    on_cycle = np.unique(jump[affected])
    # Cycle id = smallest node number on the cycle (min-doubling around the cycle).
    n = len(parent)
    low = np.arange(n, dtype=np.int64)
    step = np.where(parent >= 0, parent, low)
    for _ in range(int(np.ceil(np.log2(n + 1))) + 1):
        low = np.minimum(low, low[step])
        step = step[step]
    nodes = pl.DataFrame(
        {"node": on_cycle, "cycle": low[on_cycle], "t": edge_time[on_cycle], "referrer": parent[on_cycle]}
    )
    cut = nodes.sort(["cycle", "t", "node"], descending=[False, True, True]).group_by("cycle").first()
    new_parent = parent.copy()
    new_parent[cut["node"].to_numpy()] = -1
    cut_nodes = set(cut["node"].to_list())
    lengths = nodes.group_by("cycle").len()
    nodes = nodes.join(lengths, on="cycle")
    anomalies = pl.DataFrame(
        {
            "kind": ["cycle"] * nodes.height,
            "member_id": ids[nodes["node"].to_numpy()].tolist(),
            "referrer_member_id": ids[nodes["referrer"].to_numpy()].tolist(),
            "cycle_id": ids[nodes["cycle"].to_numpy()].tolist(),
            "cycle_length": nodes["len"].cast(pl.Int32),
            "edge_dropped": [int(v) in cut_nodes for v in nodes["node"].to_list()],
        }
    )
    return new_parent, anomalies


def _index(names: pl.Series) -> tuple[np.ndarray, pl.DataFrame]:
    """Sorted unique ids (numpy object array) and a frame id → node number for joins."""
    uniq = names.unique().sort()
    return uniq.to_numpy().astype(object), pl.DataFrame(
        {"id": uniq, "node": pl.arange(0, len(uniq), eager=True)}
    )


def build_forest(edges: pl.DataFrame) -> Forest:
    """edges: member_id (referee), referrer_id, referred_at — at most one row per referee, no self-loops."""
    ids, index = _index(pl.concat([edges["member_id"], edges["referrer_id"]]).cast(pl.Utf8))
    n = len(ids)
    parent = np.full(n, -1, dtype=np.int64)
    edge_time = np.zeros(n, dtype=np.int64)
    if n:
        e = edges.join(index.rename({"id": "member_id", "node": "child"}), on="member_id").join(
            index.rename({"id": "referrer_id", "node": "par"}), on="referrer_id"
        )
        child = e["child"].to_numpy()
        parent[child] = e["par"].to_numpy()
        edge_time[child] = e["referred_at"].dt.epoch("us").fill_null(0).to_numpy()
    parent, anomalies = _break_cycles(ids, parent, edge_time)
    root, depth = _ancestors_by_doubling(parent)
    return Forest(ids=ids, parent=parent, root=root, depth=depth, anomalies=anomalies)


def subtree_sizes(parent: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Size of the subtree under every node, one numpy step per generation (O(n) work in total)."""
    n = len(parent)
    size = np.ones(n, dtype=np.int64)
    if n == 0:
        return size
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(int(depth.max()) + 2))
    for d in range(int(depth.max()), 0, -1):
        nodes = order[bounds[d] : bounds[d + 1]]
        np.add.at(size, parent[nodes], size[nodes])
    return size


def structural_virality(forest: Forest) -> np.ndarray:
    """Mean shortest-path distance over all node pairs of each tree, indexed by root node (NaN elsewhere)."""
    n = len(forest.parent)
    tree_n = np.bincount(forest.root, minlength=n).astype(np.float64)
    size = subtree_sizes(forest.parent, forest.depth).astype(np.float64)
    child = forest.parent >= 0
    n_of = tree_n[forest.root]
    wiener = np.bincount(
        forest.root[child], weights=size[child] * (n_of[child] - size[child]), minlength=n
    )  # Σ over edges s·(n−s) = Σ over unordered pairs of distances
    with np.errstate(invalid="ignore", divide="ignore"):
        sv = np.where(tree_n > 1, 2.0 * wiener / (tree_n * (tree_n - 1)), np.nan)
    return sv


def load_edges(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.execute(FIRST_BINDING_SQL).pl()


def self_referrals(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.execute(
        """SELECT 'self_referral' AS kind, referee_member_id AS member_id, referrer_member_id,
                  NULL::VARCHAR AS cycle_id, NULL::INTEGER AS cycle_length, TRUE AS edge_dropped
           FROM staging.referrals WHERE referrer_member_id = referee_member_id
           GROUP BY ALL ORDER BY member_id"""
    ).pl()


def _anomaly_text(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.col("kind") == "self_referral")
        .then(pl.lit("会员自己推荐自己（") + pl.col("member_id") + pl.lit("），该推荐关系已忽略"))
        .when(pl.col("edge_dropped"))
        .then(
            pl.lit("推荐关系成环（环长 ")
            + pl.col("cycle_length").cast(pl.Utf8)
            + pl.lit("，含 ")
            + pl.col("cycle_id")
            + pl.lit("）：已断开最晚的一条 ")
            + pl.col("referrer_member_id")
            + pl.lit(" → ")
            + pl.col("member_id")
        )
        .otherwise(
            pl.lit("推荐关系成环（环长 ")
            + pl.col("cycle_length").cast(pl.Utf8)
            + pl.lit("，含 ")
            + pl.col("cycle_id")
            + pl.lit("）：该会员在环上，保留其推荐关系")
        )
        .alias("detail_zh"),
        pl.when(pl.col("kind") == "self_referral")
        .then(
            pl.lit("Member ") + pl.col("member_id") + pl.lit(" referred themselves; the referral is ignored")
        )
        .when(pl.col("edge_dropped"))
        .then(
            pl.lit("Referral cycle of length ")
            + pl.col("cycle_length").cast(pl.Utf8)
            + pl.lit(" (through ")
            + pl.col("cycle_id")
            + pl.lit("): cut its latest edge ")
            + pl.col("referrer_member_id")
            + pl.lit(" → ")
            + pl.col("member_id")
        )
        .otherwise(
            pl.lit("Referral cycle of length ")
            + pl.col("cycle_length").cast(pl.Utf8)
            + pl.lit(" (through ")
            + pl.col("cycle_id")
            + pl.lit("): this member is on it, their referral edge is kept")
        )
        .alias("detail_en"),
    )


def build_referral_tree(conn: duckdb.DuckDBPyConnection, timezone: str) -> dict:
    """Rewrite marts.referral_tree and marts.referral_anomalies. Returns counts for metadata."""
    forest = build_forest(load_edges(conn))
    anomalies = _anomaly_text(
        pl.concat([self_referrals(conn).cast({"cycle_length": pl.Int32}), forest.anomalies], how="vertical")
    )
    names = pl.Series("member_id", forest.ids, dtype=pl.Utf8)
    has_parent = pl.Series(forest.parent >= 0)
    nodes = pl.DataFrame(
        {
            "member_id": names,
            "parent_id": names.gather(np.maximum(forest.parent, 0)).zip_with(
                has_parent, pl.Series([None], dtype=pl.Utf8)
            ),
            "root_dac_id": names.gather(forest.root),
            "generation": pl.Series(forest.depth.astype(np.int32)),
        }
    )
    conn.register("_dac_tree_nodes", nodes.to_arrow())
    conn.register("_dac_anomalies", anomalies.to_arrow())
    try:
        conn.execute("DELETE FROM marts.referral_tree")
        conn.execute(
            f"""
            INSERT INTO marts.referral_tree
            WITH fb AS ({FIRST_BINDING_SQL}),
            j AS (
                SELECT t.*,
                       least(m.first_seen_at, CASE WHEN t.parent_id IS NOT NULL THEN fb.referred_at END) AS joined_at
                FROM _dac_tree_nodes t
                LEFT JOIN staging.members m ON m.member_id = t.member_id
                LEFT JOIN fb ON fb.member_id = t.member_id AND fb.referrer_id = t.parent_id
            )
            SELECT j.member_id, j.parent_id, j.root_dac_id, rd.dac_id IS NOT NULL, j.generation,
                   timezone(?, j.joined_at)::DATE, j.joined_at, d.dac_id IS NOT NULL
            FROM j
            LEFT JOIN marts.dacs d ON d.dac_id = j.member_id
            LEFT JOIN marts.dacs rd ON rd.dac_id = j.root_dac_id
            """,
            [timezone],
        )
        conn.execute("DELETE FROM marts.referral_anomalies")
        conn.execute(
            "INSERT INTO marts.referral_anomalies SELECT kind, member_id, referrer_member_id, cycle_id, "
            "cycle_length, edge_dropped, detail_zh, detail_en FROM _dac_anomalies"
        )
    finally:
        conn.unregister("_dac_tree_nodes")
        conn.unregister("_dac_anomalies")
    return {
        "nodes": len(forest.ids),
        "roots": int((forest.parent < 0).sum()),
        "max_generation": int(forest.depth.max()) if len(forest.ids) else 0,
        "self_referrals": int((anomalies["kind"] == "self_referral").sum()),
        "cycles": int(anomalies.filter(pl.col("edge_dropped") & (pl.col("kind") == "cycle")).height),
    }


def data_as_of(conn: duckdb.DuckDBPyConnection):
    """The newest event in the data (orders, referrals, memberships, messages): 'now' for window-complete rules."""
    return conn.execute(
        """SELECT greatest(
               (SELECT max(paid_at) FROM staging.orders),
               (SELECT max(referred_at) FROM staging.referrals),
               (SELECT max(event_at) FROM staging.group_memberships),
               (SELECT max(sent_at) FROM staging.messages))"""
    ).fetchone()[0]


def _forest_from_table(conn: duckdb.DuckDBPyConnection) -> Forest:
    tree = conn.execute("SELECT member_id, parent_id, root_dac_id, generation FROM marts.referral_tree").pl()
    ids, index = _index(tree["member_id"])
    t = (
        tree.join(index.rename({"id": "member_id", "node": "me"}), on="member_id")
        .join(index.rename({"id": "parent_id", "node": "par"}), on="parent_id", how="left")
        .join(index.rename({"id": "root_dac_id", "node": "rt"}), on="root_dac_id")
        .sort("me")
    )
    parent = t["par"].fill_null(-1).to_numpy().astype(np.int64)
    root = t["rt"].to_numpy().astype(np.int64)
    depth = t["generation"].to_numpy().astype(np.int64)
    return Forest(ids=ids, parent=parent, root=root, depth=depth, anomalies=pl.DataFrame())


TREE_STATS_SQL = """
WITH t AS (SELECT * FROM marts.referral_tree),
kids AS (
    SELECT p.member_id,
           count(c.member_id) FILTER (WHERE c.joined_at <= p.joined_at + $window * INTERVAL 1 DAY) AS referees_w
    FROM t p LEFT JOIN t c ON c.parent_id = p.member_id
    GROUP BY p.member_id
),
per_root AS (
    SELECT t.root_dac_id,
           bool_or(t.root_is_dac) AS root_is_dac,
           count(*) AS tree_size,
           max(t.generation) AS tree_depth,
           avg(k.referees_w) FILTER (WHERE t.joined_at + $window * INTERVAL 1 DAY <= $as_of) AS k_factor,
           count(*) FILTER (WHERE t.generation > 0 AND t.is_dac) AS promoted_dacs,
           coalesce(sum(g.gmv) FILTER (WHERE t.generation > 0), 0) AS downline_gmv
    FROM t JOIN kids k USING (member_id)
    LEFT JOIN (SELECT member_id, sum(net_amount) AS gmv FROM staging.orders WHERE is_paid GROUP BY 1) g USING (member_id)
    GROUP BY t.root_dac_id
),
breadth AS (
    SELECT root_dac_id, max(c) AS max_breadth
    FROM (SELECT root_dac_id, generation, count(*) AS c FROM t GROUP BY 1, 2) GROUP BY 1
),
cycle AS (
    SELECT c.root_dac_id, median(date_diff('second', p.joined_at, c.joined_at) / 86400.0) AS cycle_time_days
    FROM t c JOIN t p ON c.parent_id = p.member_id
    GROUP BY 1
)
SELECT r.root_dac_id, r.root_is_dac, r.tree_size, r.tree_depth, b.max_breadth, sv.structural_virality,
       r.k_factor, c.cycle_time_days, r.promoted_dacs, r.downline_gmv
FROM per_root r
JOIN breadth b USING (root_dac_id)
LEFT JOIN cycle c USING (root_dac_id)
LEFT JOIN _dac_sv sv USING (root_dac_id)
"""


def build_tree_stats(conn: duckdb.DuckDBPyConnection, timezone: str, kfactor_window_days: int = 28) -> dict:
    """Rewrite referral_tree_stats, referral_kfactor_cohort and referral_generation_gmv from marts.referral_tree."""
    forest = _forest_from_table(conn)
    sv = structural_virality(forest)
    roots = np.flatnonzero(forest.parent < 0)
    sv_df = pl.DataFrame(
        {"root_dac_id": forest.ids[roots].tolist(), "structural_virality": sv[roots]},
        schema={"root_dac_id": pl.Utf8, "structural_virality": pl.Float64},
    ).with_columns(pl.col("structural_virality").fill_nan(None))
    as_of = data_as_of(conn)
    conn.register("_dac_sv", sv_df.to_arrow())
    try:
        conn.execute("DELETE FROM marts.referral_tree_stats")
        conn.execute(
            "INSERT INTO marts.referral_tree_stats " + TREE_STATS_SQL,
            {"window": kfactor_window_days, "as_of": as_of},
        )
    finally:
        conn.unregister("_dac_sv")
    conn.execute("DELETE FROM marts.referral_generation_gmv")
    conn.execute(
        """INSERT INTO marts.referral_generation_gmv
           SELECT t.root_dac_id, t.generation, count(*), count(g.member_id), coalesce(sum(g.gmv), 0)
           FROM marts.referral_tree t
           LEFT JOIN (SELECT member_id, sum(net_amount) AS gmv FROM staging.orders WHERE is_paid GROUP BY 1) g
             USING (member_id)
           WHERE t.generation > 0
           GROUP BY 1, 2"""
    )
    conn.execute("DELETE FROM marts.referral_kfactor_cohort")
    conn.execute(
        """INSERT INTO marts.referral_kfactor_cohort
           WITH j AS (
               SELECT m.member_id, coalesce(t.joined_at, m.first_seen_at) AS joined_at
               FROM staging.members m LEFT JOIN marts.referral_tree t USING (member_id)
               UNION ALL
               SELECT t.member_id, t.joined_at FROM marts.referral_tree t
               WHERE t.member_id NOT IN (SELECT member_id FROM staging.members)
           ),
           kids AS (
               SELECT p.member_id, count(*) AS n
               FROM marts.referral_tree c JOIN marts.referral_tree p ON c.parent_id = p.member_id
               WHERE c.joined_at <= p.joined_at + $window * INTERVAL 1 DAY
               GROUP BY 1
           )
           SELECT date_trunc('month', timezone($tz, j.joined_at))::DATE AS cohort_month,
                  count(*), coalesce(sum(k.n), 0), coalesce(sum(k.n), 0) / count(*),
                  coalesce(max(j.joined_at) + $window * INTERVAL 1 DAY <= $as_of, FALSE)
           FROM j LEFT JOIN kids k USING (member_id)
           WHERE j.joined_at IS NOT NULL
           GROUP BY 1""",
        {"window": kfactor_window_days, "as_of": as_of, "tz": timezone},
    )
    return {
        "trees": int(len(roots)),
        "largest_tree": int(np.bincount(forest.root).max()) if len(forest.ids) else 0,
        "max_structural_virality": float(np.nanmax(sv)) if np.isfinite(sv).any() else None,
    }
