"""Score the 大C mart against the simulator's ground truth (docs/simulator.md): 大C identification F1, referral
edge recall, promotion-date error. Used by the slow end-to-end test and bench/bench_dac_contribution.py.

Members are mapped to simulated persons through their identifiers: each truth identity link is hashed the way
ingestion hashes it, joined to staging.member_identities, and every member takes the person most of its
identifiers belong to.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from xiaoshuju.privacy import keyed_hash, normalise_phone


def _hash(id_type: str, value: str, key: bytes) -> str | None:
    if id_type == "phone":
        return keyed_hash(normalise_phone(value), key, "phone")
    return keyed_hash(value, key, id_type)


def member_person_map(conn: duckdb.DuckDBPyConnection, truth_dir: Path, key: bytes) -> pl.DataFrame:
    """(member_id, person_id): the person most of the member's identifiers belong to."""
    links = (
        pl.read_parquet(Path(truth_dir) / "identity_links.parquet")
        .filter(pl.col("id_type") != "phone_masked")
        .select("id_type", "value", "person_id")
        .unique()
    )
    links = links.with_columns(
        pl.Series(
            "id_hash",
            [_hash(t, v, key) for t, v in links.select("id_type", "value").iter_rows()],
            dtype=pl.String,
        )
    )
    ours = conn.execute("SELECT DISTINCT member_id, id_type, id_hash FROM staging.member_identities").pl()
    votes = ours.join(links, on=["id_type", "id_hash"]).group_by("member_id", "person_id").len()
    return (
        votes.sort(["member_id", "len", "person_id"], descending=[False, True, False])
        .group_by("member_id", maintain_order=True)
        .first()
        .select("member_id", "person_id")
    )


def _f1(pred: set, true: set) -> dict:
    tp = len(pred & true)
    precision = tp / len(pred) if pred else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "true": len(true),
        "predicted": len(pred),
        "tp": tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def dac_scores(conn: duckdb.DuckDBPyConnection, truth_dir: Path, key: bytes) -> dict:
    truth_dir = Path(truth_dir)
    mp = member_person_map(conn, truth_dir, key)
    persons = pl.read_parquet(truth_dir / "persons.parquet")
    ours = conn.execute("SELECT dac_id AS member_id, dac_since FROM marts.dacs").pl().join(mp, on="member_id")
    true_dacs = set(persons.filter(pl.col("is_dac") & ~pl.col("is_staff"))["person_id"].to_list())
    out = {"dac": _f1(set(ours["person_id"].to_list()), true_dacs), "mapped_members": mp.height}

    # referral edges: the tree's parent links, and every staging referral row, mapped to person pairs
    truth_edges = set(
        pl.read_parquet(truth_dir / "referrals.parquet").select("referrer", "referee").iter_rows()
    )

    def edges(sql: str) -> set:
        e = conn.execute(sql).pl()
        e = e.join(mp.rename({"member_id": "a", "person_id": "pa"}), on="a").join(
            mp.rename({"member_id": "b", "person_id": "pb"}), on="b"
        )
        return set(e.select("pa", "pb").iter_rows())

    tree_edges = edges(
        "SELECT parent_id AS a, member_id AS b FROM marts.referral_tree WHERE parent_id IS NOT NULL"
    )
    staged_edges = edges(
        "SELECT DISTINCT referrer_member_id AS a, referee_member_id AS b FROM staging.referrals"
    )
    out["referral_edges_tree"] = _f1(tree_edges, truth_edges)
    out["referral_edges_staging"] = _f1(staged_edges, truth_edges)

    # promotion dates: truth promoted_at (promoted 小c only) vs our dac_since
    promoted = persons.filter(pl.col("promoted_at").is_not_null()).select(
        "person_id", pl.col("promoted_at").dt.convert_time_zone("Asia/Shanghai").dt.date().alias("true_date")
    )
    j = promoted.join(ours.group_by("person_id").agg(pl.col("dac_since").min()), on="person_id", how="left")
    found = j.filter(pl.col("dac_since").is_not_null()).with_columns(
        (pl.col("dac_since") - pl.col("true_date")).dt.total_days().alias("diff")
    )
    out["promotions"] = {
        "promoted": j.height,
        "found": found.height,
        "within_7_days": int((found["diff"].abs() <= 7).sum()) if found.height else 0,
        "share_within_7_days": float((found["diff"].abs() <= 7).mean()) if found.height else None,
        "median_diff_days": float(found["diff"].median()) if found.height else None,
    }
    return out
