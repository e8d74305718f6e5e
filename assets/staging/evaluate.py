"""Score staging against the simulator's ground truth: quarantine vs injected defects, identity resolution vs
recoverable identity links, reconciliation. Used by the end-to-end test and bench/bench_ingestion.py."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

from xiaoshuju.privacy import keyed_hash, normalise_phone

NOT_QUARANTINED = ("duplicate_file",)  # expected outcome: landing de-duplicates, nothing quarantined
# A byte copy dropped beside its original ("订单数据 (1).csv") is de-duplicated by landing; whichever name landing
# saw first names the file in the manifest, so names are compared without the copy suffix.
_COPY = re.compile(r" \(\d+\)(\.[^./]+)$")


def _base(name: str) -> str:
    return _COPY.sub(r"\1", name.replace("\\", "/"))


def quarantine_scores(conn: duckdb.DuckDBPyConnection, truth_dir: Path) -> dict:
    defects = pl.read_parquet(Path(truth_dir) / "defects.parquet").filter(
        ~pl.col("expected_reason_code").is_in(NOT_QUARANTINED)
    )
    exp = {
        (_base(f), ln, c) for f, ln, c in defects.select("file", "line", "expected_reason_code").iter_rows()
    }
    # quarantine shows file names with person names masked; the manifest keeps the name the file arrived with
    got_rows = conn.execute(
        "SELECT coalesce(m.file_name, q.file_name), q.line_no, q.reason_code FROM quarantine.rows q "
        "LEFT JOIN landing.manifest m USING (file_sha256)"
    ).fetchall()
    got = {(_base(f), ln, c) for f, ln, c in got_rows}
    tp = exp & got
    return {
        "expected": len(exp),
        "quarantined": len(got),
        "true_positives": len(tp),
        "precision": len(tp) / len(got) if got else 1.0,
        "recall": len(tp) / len(exp) if exp else 1.0,
        "missed": sorted(exp - got, key=str)[:20],
        "unexpected": sorted(got - exp, key=str)[:20],
    }


def _hash(id_type: str, value: str, key: bytes) -> str | None:
    if id_type == "phone":
        return keyed_hash(normalise_phone(value), key, "phone")
    return keyed_hash(value, key, id_type)


def identity_scores(conn: duckdb.DuckDBPyConnection, truth_dir: Path, key: bytes) -> dict:
    """Pairwise precision / recall over recoverable identifiers: two identifiers of one person should share a
    member_id, identifiers of different people should not."""
    links = pl.read_parquet(Path(truth_dir) / "identity_links.parquet").filter(pl.col("recoverable"))
    links = links.filter(pl.col("id_type") != "phone_masked").select("id_type", "value", "person_id").unique()
    hashes = [_hash(t, v, key) for t, v in links.select("id_type", "value").iter_rows()]
    links = links.with_columns(pl.Series("id_hash", hashes, dtype=pl.String))
    ours = conn.execute("SELECT DISTINCT id_type, id_hash, member_id FROM staging.member_identities").pl()
    j = links.join(ours, on=["id_type", "id_hash"], how="left")
    # an identifier we never saw (or that resolved to several members) is its own singleton prediction
    j = j.unique(subset=["id_type", "id_hash"], keep="first").with_columns(
        pl.coalesce([pl.col("member_id"), pl.lit("missing:") + pl.col("id_type") + pl.col("id_hash")]).alias(
            "pred"
        )
    )
    true_pairs = int(
        j.group_by("person_id").len().select((pl.col("len") * (pl.col("len") - 1)) // 2).sum().item()
    )
    pred_pairs = int(j.group_by("pred").len().select((pl.col("len") * (pl.col("len") - 1)) // 2).sum().item())
    tp = int(
        j.group_by("person_id", "pred").len().select((pl.col("len") * (pl.col("len") - 1)) // 2).sum().item()
    )
    return {
        "identifiers": j.height,
        "found": int(j["member_id"].is_not_null().sum()),
        "true_pairs": true_pairs,
        "predicted_pairs": pred_pairs,
        "precision": tp / pred_pairs if pred_pairs else 1.0,
        "recall": tp / true_pairs if true_pairs else 1.0,
    }


def reconciliation_summary(conn: duckdb.DuckDBPyConnection) -> dict:
    n, ok = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE rows_in = rows_loaded + rows_quarantined AND reconciled) "
        "FROM ops.reconciliation"
    ).fetchone()
    return {"files": int(n), "reconciled": int(ok)}
