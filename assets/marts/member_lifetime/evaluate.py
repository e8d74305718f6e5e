"""Score the member lifetime mart against the simulator's ground truth (docs/simulator.md): fitted BG/NBD and
Gamma-Gamma parameters vs the true ones, calibration vs holdout, and the 小c → 大C ladder vs true 大C and
promotion dates. Used by the slow end-to-end test and the bench."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl

from xiaoshuju.privacy import keyed_hash, normalise_phone


def person_to_member(conn: duckdb.DuckDBPyConnection, truth_dir: Path, key: bytes) -> pl.DataFrame:
    """person_id → member_id through the recoverable identifiers (majority member per person)."""
    links = (
        pl.read_parquet(Path(truth_dir) / "identity_links.parquet")
        .filter(pl.col("recoverable") & (pl.col("id_type") != "phone_masked"))
        .select("id_type", "value", "person_id")
        .unique()
    )
    hashes = [
        keyed_hash(normalise_phone(v), key, "phone") if t == "phone" else keyed_hash(v, key, t)
        for t, v in links.select("id_type", "value").iter_rows()
    ]
    links = links.with_columns(pl.Series("id_hash", hashes, dtype=pl.String))
    ours = conn.execute("SELECT DISTINCT id_type, id_hash, member_id FROM staging.member_identities").pl()
    j = links.join(ours, on=["id_type", "id_hash"], how="inner")
    return (
        j.group_by("person_id", "member_id")
        .len()
        .sort(["person_id", "len"], descending=[False, True])
        .unique(subset=["person_id"], keep="first")
        .select("person_id", "member_id")
    )


def parameter_scores(conn: duckdb.DuckDBPyConnection, truth_dir: Path) -> dict:
    truth = json.loads((Path(truth_dir) / "truth.json").read_text())
    cur = conn.execute("SELECT * FROM marts.clv_model")
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    out = {
        "status": row["status"],
        "status_reason": row["status_reason"],
        "holdout_error_pct": row["holdout_error_pct"],
    }
    for group, keys in (("bgnbd", ("r", "alpha", "a", "b")), ("gamma_gamma", ("p", "q", "gamma"))):
        for k in keys:
            true, est = truth[group][k], row[k]
            out[k] = {"true": true, "fitted": est, "rel_error": None if est is None else (est - true) / true}
    return out


def ladder_scores(
    conn: duckdb.DuckDBPyConnection, truth_dir: Path, key: bytes | None, tz: str = "Asia/Shanghai"
) -> dict:
    """Every true 大C (seed or promoted) should be L4; promoted ones within a week of the true promotion.
    ``key`` None: the warehouse was loaded with load_truth_as_staging (member_id = person_id)."""
    persons = pl.read_parquet(Path(truth_dir) / "persons.parquet").filter(
        pl.col("is_dac") & ~pl.col("is_staff")
    )
    if key is None:
        mapping = persons.select("person_id", pl.col("person_id").alias("member_id"))
    else:
        mapping = person_to_member(conn, truth_dir, key)
    ours = conn.execute("SELECT member_id, role_level, l4_at FROM marts.member_lifetime").pl()
    as_of = conn.execute("SELECT max(as_of_date) FROM marts.member_lifetime").fetchone()[0]
    j = (
        persons.select("person_id", "dac_since", "promoted_at")
        .join(mapping, on="person_id", how="left")
        .join(ours, on="member_id", how="left")
        .with_columns(
            pl.col("promoted_at").dt.convert_time_zone(tz).dt.date().alias("promoted_day"),
            pl.col("dac_since").dt.convert_time_zone(tz).dt.date().alias("dac_day"),
        )
        .filter(pl.col("dac_day").is_null() | (pl.col("dac_day") <= as_of))
    )
    promoted = j.filter(pl.col("promoted_day").is_not_null() & pl.col("l4_at").is_not_null())
    lag = (promoted["l4_at"] - promoted["promoted_day"]).dt.total_days()
    return {
        "true_dacs": j.height,
        "mapped": int(j["member_id"].is_not_null().sum()),
        "reached_l4": int((j["role_level"] == "L4").sum()),
        "not_l4": j.filter(pl.col("role_level") != "L4")
        .select("person_id", "member_id", "role_level")
        .to_dicts()[:10],
        "promoted": int(j["promoted_day"].is_not_null().sum()),
        "promoted_within_week": int(((lag >= -7) & (lag <= 7)).sum()) if promoted.height else 0,
        "promotion_lag_days": lag.to_list()[:50],
        "lags_outside_week": [x for x in lag.to_list() if abs(x) > 7],
        "members_l4": int(
            conn.execute("SELECT count(*) FROM marts.member_lifetime WHERE role_level = 'L4'").fetchone()[0]
        ),
    }


def bgnbd_truth_decomposition(truth_dir: Path, tz: str = "Asia/Shanghai") -> dict:
    """Fit BG/NBD on the simulator's true paid orders under two purchase definitions, to tell the fitter's error from
    departures of the data from the textbook process. Variants (relative errors vs truth.json):

    * ``continuous``: exact purchase times of every order (the process the simulator draws: BG/NBD at day grain, no
      purchase process cut — see docs/simulator.md);
    * ``days``: the mart's own definition — purchase days with net > 0 (same-day orders counted once, fully
      refunded orders dropped)."""
    import datetime as dt

    from assets.marts.member_lifetime import btyd

    t = Path(truth_dir)
    truth = json.loads((t / "truth.json").read_text())
    end = dt.date.fromisoformat(truth["end"])
    end_ts = (
        pl.Series([dt.datetime.combine(end + dt.timedelta(days=1), dt.time())])
        .dt.replace_time_zone(tz)
        .dt.convert_time_zone("UTC")[0]
    )
    per = pl.read_parquet(t / "persons.parquet").select("person_id", "is_staff")
    o = (
        pl.read_parquet(t / "orders.parquet")
        .filter(pl.col("is_paid"))
        .join(per, on="person_id")
        .filter(~pl.col("is_staff"))
        .with_columns(
            (pl.col("amount") - pl.col("refund").fill_null(0)).alias("net"),
            pl.col("paid_at").dt.convert_time_zone(tz).dt.date().alias("day"),
        )
    )
    week = 7 * 86400.0
    cont = o.group_by("person_id").agg(
        (pl.len() - 1).alias("x"),
        ((pl.col("paid_at").max() - pl.col("paid_at").min()).dt.total_seconds() / week).alias("t_x"),
        ((pl.lit(end_ts) - pl.col("paid_at").min()).dt.total_seconds() / week).alias("T"),
    )
    days = (
        o.filter(pl.col("net") > 0)
        .unique(["person_id", "day"])
        .group_by("person_id")
        .agg(
            (pl.len() - 1).alias("x"),
            ((pl.col("day").max() - pl.col("day").min()).dt.total_days() / 7).alias("t_x"),
            ((pl.lit(end) - pl.col("day").min()).dt.total_days() / 7).alias("T"),
        )
    )
    out = {"orders": o.height, "purchase_days": int(days["x"].sum() + days.height)}
    for name, df in (("continuous", cont), ("days", days)):
        fit = btyd.fit_bgnbd(*(df[c].to_numpy().astype(float) for c in ("x", "t_x", "T")))
        out[name] = {
            "n": df.height,
            **{
                k: round((getattr(fit.params, k) - truth["bgnbd"][k]) / truth["bgnbd"][k], 4)
                for k in ("r", "alpha", "a", "b")
            },
        }
    return out


def load_truth_as_staging(conn: duckdb.DuckDBPyConnection, truth_dir: Path) -> None:
    """Fill the canonical staging tables straight from the simulator's truth (member_id = person_id), bypassing
    ingestion: isolates this mart's logic from parsing and identity-resolution noise."""
    t = Path(truth_dir)
    persons = pl.read_parquet(t / "persons.parquet").select(
        pl.col("person_id").alias("member_id"),
        pl.lit("*").alias("display_name_masked"),
        pl.col("is_staff"),
        pl.col("joined_at").alias("first_seen_at"),
    )
    orders = pl.read_parquet(t / "orders.parquet").select(
        ("canonical:" + pl.col("order_no")).alias("order_id"),
        pl.lit("canonical").alias("source"),
        pl.col("order_no").alias("source_order_no"),
        pl.col("person_id").alias("member_id"),
        pl.when(pl.col("is_paid")).then(pl.lit("completed")).otherwise(pl.lit("closed")).alias("status"),
        "is_paid",
        "created_at",
        "paid_at",
        pl.when(pl.col("is_paid")).then(pl.col("amount")).otherwise(0.0).alias("paid_amount"),
        pl.col("refund").fill_null(0.0).alias("refund_amount"),
        (
            pl.when(pl.col("is_paid")).then(pl.col("amount")).otherwise(0.0) - pl.col("refund").fill_null(0.0)
        ).alias("net_amount"),
        pl.col("seller_person").alias("seller_member_id"),
        pl.lit("truth").alias("source_file_sha256"),
    )
    groups = pl.read_parquet(t / "groups.parquet").select(
        pl.col("group_key").alias("group_id"),
        pl.lit("wechat").alias("source"),
        pl.col("owner_person").alias("owner_member_id"),
        "created_at",
    )
    ms = pl.read_parquet(t / "memberships.parquet")
    joins = ms.select(
        pl.col("group_key").alias("group_id"),
        pl.col("person_id").alias("member_id"),
        pl.lit("join").alias("event"),
        pl.col("joined_at").alias("event_at"),
    )
    leaves = ms.filter(pl.col("removed_at").is_not_null()).select(
        pl.col("group_key").alias("group_id"),
        pl.col("person_id").alias("member_id"),
        pl.lit("leave").alias("event"),
        pl.col("removed_at").alias("event_at"),
    )
    memberships = pl.concat([joins, leaves]).with_columns(pl.lit("truth").alias("source_format"))
    referrals = pl.read_parquet(t / "referrals.parquet").select(
        pl.col("referrer").alias("referrer_member_id"),
        pl.col("referee").alias("referee_member_id"),
        pl.col("at").alias("referred_at"),
        "channel",
        pl.lit("truth").alias("source_format"),
    )
    for table, df in (
        ("members", persons),
        ("orders", orders),
        ("groups", groups),
        ("group_memberships", memberships),
        ("referrals", referrals),
    ):
        conn.register("_truth_df", df.to_arrow())
        conn.execute(f"INSERT INTO staging.{table} BY NAME SELECT * FROM _truth_df")
        conn.unregister("_truth_df")
