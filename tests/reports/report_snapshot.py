"""A hand-made serving snapshot (Parquet tables + _snapshot.json + CURRENT) with known numbers for the PDF tests.

A uniquely named helper module (not conftest) so that test files can import it whatever other conftest.py
files pytest loaded first."""

import datetime as dt
import json
from pathlib import Path

import polars as pl

W47 = dt.date(2026, 11, 16)
WEEKS = [W47 - dt.timedelta(weeks=k) for k in range(7, -1, -1)]  # W40 .. W47
RAW_PHONE = "13812345678"
RAW_NAME = "张三丰"


def _iso(d: dt.date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def weekly_kpis() -> pl.DataFrame:
    rows = []
    for i, w in enumerate(WEEKS):
        rows.append(
            {
                "week_start": w,
                "week_label": _iso(w),
                "gmv": 100000.0 + 3000 * i if w != W47 else 123456.78,
                "orders": 800 + i,
                "buyers": 600 + 10 * i if w != W47 else 777,
                "new_members": 150 + i,
                "active_groups": 40 + (i % 3),
                "zombie_groups": 5 + i // 2,
                "active_dacs": 30 + i,
                "new_dacs": 2 + (i % 2),
                "predicted_clv_12m_base": None if w != W47 else 2345678.0,
                "gmv_attr_group": 60000.0 + i if w != W47 else 80000.0,
                "gmv_attr_first_touch": 30000.0 if w != W47 else 40000.0,
                "gmv_attr_last_touch": 50000.0 if w != W47 else 61728.39,
            }
        )
    df = pl.DataFrame(rows)
    for k in [
        "gmv",
        "orders",
        "buyers",
        "new_members",
        "active_groups",
        "zombie_groups",
        "active_dacs",
        "new_dacs",
        "predicted_clv_12m_base",
    ]:
        prev = df[k].shift(1).cast(pl.Float64)
        df = df.with_columns(
            pl.when(prev > 0)
            .then((pl.col(k).cast(pl.Float64) - prev) / prev)
            .otherwise(None)
            .alias(f"{k}_wow")
        )
    return df


def dac_weekly() -> pl.DataFrame:
    rows = []
    # W47: d1 5000 (was 4000, +1000), d2 3000 (was 6000, −3000), d3 2500 (new, +2500), d4 0 (was 800, −800)
    for wk, vals in (
        (W47 - dt.timedelta(weeks=1), {"d1": 4000, "d2": 6000, "d4": 800}),
        (W47, {"d1": 5000, "d2": 3000, "d3": 2500, "d4": 0}),
    ):
        for dac, v in vals.items():
            rows.append(
                {
                    "week_start": wk,
                    "dac_id": dac,
                    "gmv_attributed_avg": float(v),
                    "own_gmv": 100.0,
                    "members_served": 40,
                    "rank": 0,
                    "is_active": True,
                    "is_dac_this_week": True,
                }
            )
    return pl.DataFrame(rows)


def member_lifetime() -> pl.DataFrame:
    names = {
        "d1": "王*",
        "d2": "李**",
        "d3": RAW_NAME,
        "d4": "赵*",
    }  # d3 not masked upstream: the PDF must mask it
    rows = [
        {
            "member_id": k,
            "display_name_masked": v,
            "churn_band": "low",
            "historic_clv": 1000.0,
            "predicted_clv_12m": 500.0,
            "as_of_date": dt.date(2026, 11, 22),
        }
        for k, v in names.items()
    ]
    # members at risk: 3 high (historic 300 each, predicted 10 each), 2 medium, 1 non-buyer
    rows += [
        {
            "member_id": f"h{i}",
            "display_name_masked": "钱*",
            "churn_band": "high",
            "historic_clv": 300.0,
            "predicted_clv_12m": 10.0,
            "as_of_date": dt.date(2026, 11, 22),
        }
        for i in range(3)
    ]
    rows += [
        {
            "member_id": f"m{i}",
            "display_name_masked": "孙*",
            "churn_band": "medium",
            "historic_clv": 200.0,
            "predicted_clv_12m": 50.0,
            "as_of_date": dt.date(2026, 11, 22),
        }
        for i in range(2)
    ]
    rows.append(
        {
            "member_id": "p0",
            "display_name_masked": "周*",
            "churn_band": None,
            "historic_clv": 0.0,
            "predicted_clv_12m": 0.0,
            "as_of_date": dt.date(2026, 11, 22),
        }
    )
    return pl.DataFrame(rows)


def group_alerts() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "week_start": W47,
                "group_id": "g_00000000aaaaaa",
                "owner_member_id": "d2",
                "alert_type": "zombie",
                "members_end": 45,
                "reason_zh": "自 2026-10-26 起除群主/员工外无人发言、无成交，已沉寂 27 天（群成员 45 人）",
                "reason_en": "No member speech or order since 2026-10-26: silent for 27 days (45 members)",
            },
            {
                "week_start": W47,
                "group_id": "g_00000000bbbbbb",
                "owner_member_id": "d1",
                "alert_type": "declining",
                "members_end": 30,
                "reason_zh": f"4周平均活力从 60 降到 35（联系 {RAW_PHONE}）",
                "reason_en": f"4-week average vitality fell from 60 to 35 (contact {RAW_PHONE})",
            },
            {
                "week_start": W47 - dt.timedelta(weeks=1),
                "group_id": "g_old",
                "owner_member_id": "d1",
                "alert_type": "zombie",
                "members_end": 10,
                "reason_zh": "上周的告警",
                "reason_en": "last week's alert",
            },
        ]
    )


def quality_tables() -> dict[str, pl.DataFrame]:
    manifest = pl.DataFrame(
        {
            "file_sha256": ["a", "b", "c"],
            "file_name": ["o.csv", "m.csv", "x.bin"],
            "status": ["registered", "registered", "binary"],
            "row_count": [1000, 500, None],
        }
    )
    recon = pl.DataFrame(
        {
            "file_sha256": ["a", "b"],
            "file_name": ["o.csv", "m.csv"],
            "rows_in": [1000, 500],
            "rows_loaded": [990, 500],
            "rows_quarantined": [10, 0],
            "reconciled": [True, True],
        }
    )
    summary = pl.DataFrame({"file_name": ["o.csv"], "reason_code": ["bad_date"], "rows_quarantined": [10]})
    return {"landing.manifest": manifest, "ops.reconciliation": recon, "quarantine.summary": summary}


def full_tables() -> dict[str, pl.DataFrame]:
    return {
        "marts.weekly_kpis": weekly_kpis(),
        "marts.dac_contribution_weekly": dac_weekly(),
        "marts.member_lifetime": member_lifetime(),
        "marts.group_alerts": group_alerts(),
        **quality_tables(),
    }


def write_snapshot(
    serving: Path, tables: dict[str, pl.DataFrame], version: str = "v20261123T000000Z_test01"
) -> Path:
    path = serving / version
    path.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.write_parquet(path / f"{name}.parquet")
    meta = {
        "version": version,
        "built_at": "2026-11-23T00:00:00+00:00",
        "data_as_of": "2026-11-22T15:59:00+00:00",
        "tables": {k: v.height for k, v in tables.items()},
    }
    (path / "_snapshot.json").write_text(json.dumps(meta), encoding="utf-8")
    (serving / "CURRENT").write_text(version + "\n", encoding="utf-8")
    return path
