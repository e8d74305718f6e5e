"""Build a serving snapshot by hand: small Parquet tables with the documented mart columns and known numbers.

Used by the dashboard tests (and handy for local poking) until/besides the real pipeline. Layout matches
xiaoshuju/serving.py: ``serving/<version>/<schema.table>.parquet`` + ``_snapshot.json`` + ``CURRENT``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

# Column names and types of every table of a real serving snapshot (simulator S through the whole pipeline),
# written by `python tests/dashboards/snapshot_factory.py --dump-schema $XIAOSHUJU_HOME`. Hand-made tables are
# conformed to it (unknown column = error, types cast, missing columns added as NULL), and a slow test checks it
# still matches a fresh real snapshot — so a column the pages read that the marts do not have fails the tests.
REAL_SCHEMA_PATH = Path(__file__).with_name("real_schema.json")
_TYPES = {
    "str": pl.String,
    "bool": pl.Boolean,
    "i32": pl.Int32,
    "i64": pl.Int64,
    "f64": pl.Float64,
    "date": pl.Date,
    "ts": pl.Datetime("us", "UTC"),
    "dec": pl.Decimal(18, 2),
}


def _type_code(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "ts"
    if isinstance(dtype, pl.Decimal):
        return "dec"
    for code, tp in _TYPES.items():
        if dtype == tp:
            return code
    raise ValueError(f"no type code for {dtype}")


def schema_of(serving_dir: Path) -> dict[str, dict[str, str]]:
    """{table: {column: type code}} of the current snapshot in ``serving_dir``."""
    from xiaoshuju.serving import current_snapshot

    snap = current_snapshot(serving_dir)
    return {
        f.stem: {c: _type_code(t) for c, t in pl.read_parquet_schema(f).items()}
        for f in sorted(snap.path.glob("*.parquet"))
    }


def real_schema() -> dict[str, dict[str, str]]:
    return json.loads(REAL_SCHEMA_PATH.read_text(encoding="utf-8"))


def conform(name: str, df: pl.DataFrame, schema: dict[str, dict[str, str]] | None = None) -> pl.DataFrame:
    """A hand-made table in the real table's shape: its columns in the real order and types, the ones the test
    does not care about NULL. A column the real table does not have is an error (that is the point)."""
    schema = schema if schema is not None else real_schema()
    if name not in schema:  # a table the pipeline does not publish (yet), e.g. ops.check_status
        return df
    cols = schema[name]
    unknown = [c for c in df.columns if c not in cols]
    if unknown:
        raise KeyError(f"{name} has no column(s) {unknown} in a real snapshot (real: {list(cols)})")
    return df.select(
        pl.col(c).cast(_TYPES[t]) if c in df.columns else pl.lit(None, _TYPES[t]).alias(c)
        for c, t in cols.items()
    )


WEEK0 = date(2026, 1, 5)  # a Monday
N_WEEKS = 6
WEEKS = [WEEK0 + timedelta(days=7 * i) for i in range(N_WEEKS)]
DAC1 = "m_dac00000000000001"
DAC2 = "m_dac00000000000002"
GROUPS = {
    "g_0000000000000001": ("团购一群", DAC1),
    "g_0000000000000002": ("团购二群", DAC1),
    "g_0000000000000003": ("宝妈好物群", DAC2),
}


def write_snapshot(
    serving_dir: Path,
    tables: dict[str, pl.DataFrame],
    version: str = "v20260216T000000Z_test01",
    data_as_of: str = "2026-02-15",
    built_at: str = "2026-02-16T00:00:00Z",
) -> Path:
    serving_dir = Path(serving_dir)
    path = serving_dir / version
    path.mkdir(parents=True, exist_ok=True)
    schema = real_schema()
    tables = {name: conform(name, df, schema) for name, df in tables.items()}
    for name, df in tables.items():
        df.write_parquet(path / f"{name}.parquet")
    meta = {
        "version": version,
        "built_at": built_at,
        "data_as_of": data_as_of,
        "tables": {n: df.height for n, df in tables.items()},
    }
    (path / "_snapshot.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    (serving_dir / "CURRENT").write_text(version + "\n", encoding="utf-8")
    return path


def _members() -> pl.DataFrame:
    # 12 members: 6 served by DAC1 (groups 1, 2), 4 by DAC2 (group 3), the two 大C themselves
    rows = []
    segs = ["champions", "loyal", "at_risk", "hibernating", "new", "lost"]
    for i in range(10):
        dac = DAC1 if i < 6 else DAC2
        group = "g_0000000000000001" if i < 3 else ("g_0000000000000002" if i < 6 else "g_0000000000000003")
        risk = [0.1, 0.2, 0.5, 0.7, 0.8, 0.9, 0.1, 0.4, 0.7, 0.95][i]
        rows.append(
            {
                "member_id": f"m_{i:016d}",
                "display_name_masked": "王*",
                "orders": i + 1,
                "historic_clv": 100.0 * (i + 1),
                "aov": 100.0,
                "p_alive": 1 - risk,
                "predicted_clv_12m": 50.0 * (i + 1),
                "churn_risk": risk,
                "churn_band": "low" if risk < 0.33 else ("medium" if risk <= 0.66 else "high"),
                "rfm_segment": segs[i % len(segs)],
                "lifecycle_state": "active" if risk < 0.5 else "dormant",
                "cohort_month": date(2026, 1 + (i % 2), 1),
                "home_group_id": group,
                "serving_dac_id": dac,
                "role_level": "L1" if i % 3 else "L2",
                "l4_at": None,
            }
        )
    for dac in (DAC1, DAC2):
        rows.append(
            {
                "member_id": dac,
                "display_name_masked": "李*",
                "orders": 20,
                "historic_clv": 3000.0,
                "aov": 150.0,
                "p_alive": 0.95,
                "predicted_clv_12m": 2000.0,
                "churn_risk": 0.05,
                "churn_band": "low",
                "rfm_segment": "champions",
                "lifecycle_state": "active",
                "cohort_month": date(2026, 1, 1),
                "home_group_id": None,
                "serving_dac_id": None,
                "role_level": "L4",
                "l4_at": WEEKS[-1] if dac == DAC2 else date(2025, 6, 1),
            }
        )
    return pl.DataFrame(rows)


def sample_tables() -> dict[str, pl.DataFrame]:
    """A small, complete snapshot with round numbers (GMV of week i = 1000·(i+1), etc.)."""
    kpis = pl.DataFrame(
        {
            "week_start": WEEKS,
            "gmv": [1000.0 * (i + 1) for i in range(N_WEEKS)],
            "orders": [10 * (i + 1) for i in range(N_WEEKS)],
            "buyers": [8 * (i + 1) for i in range(N_WEEKS)],
            "new_members": [5] * N_WEEKS,
            "active_groups": [3] * N_WEEKS,
            "zombie_groups": [0] * (N_WEEKS - 1) + [1],
            "active_dacs": [2] * N_WEEKS,
            "new_dacs": [0] * N_WEEKS,
            "predicted_clv_12m_base": [20000.0] * N_WEEKS,
            # GMV attributed to any 大C by each method: 60% / 40% / 20% of GMV
            "gmv_attr_group": [600.0 * (i + 1) for i in range(N_WEEKS)],
            "gmv_attr_first_touch": [400.0 * (i + 1) for i in range(N_WEEKS)],
            "gmv_attr_last_touch": [200.0 * (i + 1) for i in range(N_WEEKS)],
        }
    )
    gv_rows = []
    for gi, (gid, (_name, owner)) in enumerate(GROUPS.items()):
        for wi, w in enumerate(WEEKS):
            zombie = gi == 2 and wi == N_WEEKS - 1
            score = 0.0 + 10 * (gi + 1) + wi if not zombie else 5.0
            gv_rows.append(
                {
                    "group_id": gid,
                    "owner_member_id": owner,
                    "week_start": w,
                    "members_end": 20 + gi,
                    "joins": 2,
                    "leaves": 1,
                    "net_growth": 1,
                    "speakers": 5 - gi,
                    "speak_rate": (5 - gi) / (20 + gi),
                    "messages": 100 - 10 * gi,
                    "member_messages": 70 - 10 * gi,
                    "member_questions": 4,
                    "orders": 5,
                    "messages_per_speaker": 20.0,
                    "owner_share": 0.3,
                    "owner_dependence": 2,
                    "median_first_response_minutes": 12.0 + gi,
                    "buyers": 4,
                    "conversion": 4 / (20 + gi),
                    "gmv": 100.0 * (gi + 1) * (wi + 1),
                    "gmv_per_member": 5.0,
                    "vitality_score": score,
                    "score_speak_rate": 20.0,
                    "score_activity": 15.0,
                    "score_conversion": 10.0,
                    "score_growth": 5.0,
                    "score_response": 5.0,
                    "lifecycle_state": "zombie" if zombie else "active",
                    "is_zombie": zombie,
                    "zombie_since": WEEKS[-4] if zombie else None,
                }
            )
    dac_rows = []
    for di, dac in enumerate((DAC1, DAC2)):
        for wi, w in enumerate(WEEKS):
            base = 100.0 * (di + 1) * (wi + 1)
            dac_rows.append(
                {
                    "dac_id": dac,
                    "week_start": w,
                    "own_gmv": base / 10,
                    "gmv_group": base,
                    "gmv_first_touch": base / 2,
                    "gmv_last_touch": base / 4,
                    "groups_owned": 2 - di,
                    "members_served": 6 - 2 * di,
                    "active_members": 4 - di,
                    "new_referrals": 1,
                    "referee_first_orders": 1,
                    "promotions": 0,
                    "gmv_attributed_avg": base * 7 / 12,
                    "attributed_orders": 3,
                    "messages_sent": 10,
                    "is_active": True,
                    "member_retention": 0.5,
                    "brand_retention": 0.4,
                    "retention_vs_brand": 0.1,
                    "referral_value": base / 2,
                    "referral_value_to_date": base,
                    "own_gmv_to_date": base / 5,
                    "historic_clv": 3000.0,
                    "predicted_clv_12m": 2000.0,
                    "clv_referral_cell": "Champions" if di == 0 else "Affluents",
                    "rank": di + 1,
                }
            )
    tree = pl.DataFrame(
        {
            "member_id": [
                DAC1,
                "m_0000000000000000",
                "m_0000000000000001",
                "m_0000000000000002",
                DAC2,
                "m_0000000000000006",
            ],
            "parent_id": [None, DAC1, DAC1, "m_0000000000000000", None, DAC2],
            "root_dac_id": [DAC1, DAC1, DAC1, DAC1, DAC2, DAC2],
            "generation": [0, 1, 1, 2, 0, 1],
            "joined_at": [datetime(2025, 12, 1, tzinfo=UTC)] * 6,
            "is_dac": [True, False, False, False, True, False],
        }
    )
    stats = pl.DataFrame(
        {
            "root_dac_id": [DAC1, DAC2],
            "root_is_dac": [True, True],
            "tree_size": [4, 2],
            "tree_depth": [2, 1],
            "max_breadth": [2, 1],
            "structural_virality": [1.5, 1.0],
            "k_factor": [0.5, 0.25],
            "cycle_time_days": [7.0, 10.0],
            "promoted_dacs": [0, 0],
            "downline_gmv": [900.0, 100.0],
        }
    )
    methods = ["group", "first_touch", "last_touch", "average"]
    conc = pl.DataFrame(
        {
            "week_start": [w for w in WEEKS for _ in methods],
            "method": methods * N_WEEKS,
            "dacs": [2] * (4 * N_WEEKS),
            "total_gmv": [1000.0] * (4 * N_WEEKS),
            "dac_gmv": [600.0] * (4 * N_WEEKS),
            "brand_direct_gmv": [400.0] * (4 * N_WEEKS),
            "gini": [0.2] * (4 * N_WEEKS),
            "dacs_for_half_gmv": [1] * (4 * N_WEEKS),
            "top20_share": [0.66] * (4 * N_WEEKS),
        }
    )
    now = datetime(2026, 2, 16, tzinfo=UTC)
    return {
        "marts.weekly_kpis": kpis,
        "marts.member_lifetime": _members(),
        "marts.cohort_retention": pl.DataFrame(
            {
                "cohort_month": [date(2026, 1, 1)] * 2 + [date(2026, 2, 1)],
                "months_since": [0, 1, 0],
                "cohort_size": [6, 6, 4],
                "cohort_active": [6, 3, 4],
                "retention_classic": [1.0, 0.5, 1.0],
                "cohort_active_or_later": [6, 4, 4],
                "retention_unbounded": [1.0, 4 / 6, 1.0],
                "cohort_revenue": [600.0, 300.0, 400.0],
            }
        ),
        "marts.member_lifecycle_weekly": pl.DataFrame(
            {
                "week_start": WEEKS,
                "n_new": [5] * N_WEEKS,
                "n_returning": [2] * N_WEEKS,
                "n_resurrected": [0] * N_WEEKS,
                "n_active": [8] * N_WEEKS,
                "n_dormant": [1] * N_WEEKS,
                "n_churned": [0] * N_WEEKS,
                "buyers": [8 * (i + 1) for i in range(N_WEEKS)],
                "gmv": [1000.0 * (i + 1) for i in range(N_WEEKS)],
            }
        ),
        "marts.clv_model": pl.DataFrame(
            {
                "as_of_date": [date(2026, 2, 15)],
                "status": ["fitted"],
                "status_reason": [""],
                "n_customers": [12],
                "n_repeat_buyers": [8],
                "r": [0.243],
                "alpha": [4.414],
                "a": [0.793],
                "b": [2.426],
                "holdout_predicted_repeat": [10.0],
                "holdout_actual_repeat": [11.0],
                "holdout_error_pct": [-9.1],
                "calibration_status": ["ok"],
            }
        ),
        "marts.clv_calibration": pl.DataFrame(
            {
                "bucket": ["all", "0", "1"],
                "bucket_order": [0, 1, 2],
                "n_members": [12, 6, 6],
                "predicted_repeat": [10.0, 4.0, 6.0],
                "actual_repeat": [11.0, 5.0, 6.0],
                "error_pct": [-9.1, -20.0, 0.0],
            }
        ),
        "marts.dacs": pl.DataFrame(
            {
                "dac_id": [DAC1, DAC2],
                "is_l4": [True, True],
                "is_group_owner": [True, True],
                "dac_since": [date(2025, 6, 1), WEEKS[-1]],
                "groups_owned": [2, 1],
            }
        ),
        "staging.groups": pl.DataFrame(
            {
                "group_id": list(GROUPS),
                "group_name": [n for n, _ in GROUPS.values()],
                "owner_member_id": [o for _, o in GROUPS.values()],
            }
        ),
        "marts.group_vitality_weekly": pl.DataFrame(gv_rows),
        "marts.group_alerts": pl.DataFrame(
            {
                "week_start": [WEEKS[-1]],
                "group_id": ["g_0000000000000003"],
                "owner_member_id": [DAC2],
                "alert_type": ["zombie"],
                "prev_lifecycle_state": ["dormant"],
                "vitality_score": [5.0],
                "silence_days": [23.0],
                "zombie_since": [WEEKS[-4]],
                "members_end": [22],
                "reason_zh": ["21天无成员发言且无订单"],
                "reason_en": ["No member message and no order for 21 days"],
            }
        ),
        "marts.dac_contribution_weekly": pl.DataFrame(dac_rows),
        "marts.dac_concentration_weekly": conc,
        "marts.dac_alerts": pl.DataFrame(
            {
                "week_start": [WEEKS[-1]],
                "dac_id": [DAC2],
                "alert_type": ["silent_top_dac"],
                "reason_zh": ["沉默10天"],
                "reason_en": ["Silent for 10 days"],
            }
        ),
        "marts.referral_tree": tree,
        "marts.referral_tree_stats": stats,
        "landing.manifest": pl.DataFrame(
            {
                "file_name": ["订单数据.csv", "chat_1.csv"],
                "detected_format": ["youzan_orders", "wechatmsg_chat"],
                "encoding": ["utf-8-sig", "utf-8-sig"],
                "row_count": [100, 500],
                "status": ["registered", "registered"],
                "problem": [None, None],
                "first_seen_at": [now, now],
            }
        ),
        "ops.reconciliation": pl.DataFrame(
            {
                "file_name": ["订单数据.csv", "chat_1.csv"],
                "source_format": ["youzan_orders", "wechatmsg_chat"],
                "rows_in": [100, 500],
                "rows_loaded": [98, 500],
                "rows_quarantined": [2, 0],
                "reconciled": [True, True],
            }
        ),
        "quarantine.summary": pl.DataFrame(
            {
                "file_name": ["订单数据.csv"] * 2,
                "source_format": ["youzan_orders"] * 2,
                "reason_code": ["bad_date", "negative_amount"],
                "rows_quarantined": [1, 1],
                "first_line_no": [5, 9],
                "example_reason": ["订单创建时间无法解析", "金额为负"],
            }
        ),
        "quarantine.rows_sample": pl.DataFrame(
            {
                "file_name": ["订单数据.csv"] * 2,
                "source_format": ["youzan_orders"] * 2,
                "line_no": [5, 9],
                "reason_code": ["bad_date", "negative_amount"],
                "reason": ["订单创建时间无法解析", "金额为负"],
                "preview_masked": ["E2026****,138****1234", "E2026****,-5"],
                "quarantined_at": [now, now],
            }
        ),
        "ops.identity_match_rate": pl.DataFrame(
            {
                "source_format": ["youzan_orders", "wechatmsg_chat"],
                "members": [100, 80],
                "matched_members": [90, 60],
                "match_rate": [0.9, 0.75],
            }
        ),
    }


def empty_tables() -> dict[str, pl.DataFrame]:
    """Same tables, zero rows (a pipeline run on an empty inbox)."""
    return {name: df.clear() for name, df in sample_tables().items()}


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "--dump-schema":
        sys.exit("usage: python tests/dashboards/snapshot_factory.py --dump-schema XIAOSHUJU_HOME")
    from xiaoshuju.settings import load_settings

    dumped = schema_of(load_settings(Path(sys.argv[2])).serving)
    REAL_SCHEMA_PATH.write_text(json.dumps(dumped, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {REAL_SCHEMA_PATH} ({len(dumped)} tables)")
