"""Everything the weekly PDF shows, read from the serving snapshot only (never the warehouse).

Each section is optional: a table missing from the snapshot leaves that section ``None`` and the PDF says
"not available" instead of failing. Names are shown masked only (``王*``); anything that still looks like a
phone number is masked again before it reaches the page.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import polars as pl

from assets.reports.checks import CheckStatus
from xiaoshuju.privacy import mask_name
from xiaoshuju.serving import Snapshot

KPI_KEYS = [
    "gmv",
    "orders",
    "buyers",
    "new_members",
    "active_groups",
    "zombie_groups",
    "active_dacs",
    "new_dacs",
    "predicted_clv_12m_base",
]
METHODS = ["group", "first_touch", "last_touch"]
TREND_WEEKS = 8
TOP_N = 8
MOVERS_N = 3
MAX_GROUP_ALERTS = 10
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")

T_KPIS = "marts.weekly_kpis"
T_DAC = "marts.dac_contribution_weekly"
T_GROUP_ALERTS = "marts.group_alerts"
T_MEMBERS = "marts.member_lifetime"
T_MODEL = "marts.clv_model"
T_MANIFEST = "landing.manifest"
T_RECON = "ops.reconciliation"
T_QUARANTINE = "quarantine.summary"


_NO_GLYPH = re.compile(
    "[\U00010000-\U0010ffff\u200d\ufe0e\ufe0f\u20e3]"
)  # emoji & joiners: no CJK-font glyph


def scrub(text: object) -> str:
    """Text safe for the PDF: phone-like digit runs masked (138****1234), emoji (nicknames) dropped."""
    return _NO_GLYPH.sub("", _PHONE.sub(r"\1****\2", "" if text is None else str(text)))


def safe_name(name: object, fallback_id: object) -> str:
    s = "" if name is None else str(name).strip()
    if not s:
        fid = str(fallback_id or "")
        return f"#{fid[-6:]}" if fid else "—"
    if "*" not in s:  # not masked upstream: mask here, never print a raw name
        s = mask_name(s) or "—"
    s = scrub(s)
    if not s.strip("*"):  # nothing left but stars (an emoji nickname): the id's tail says more
        fid = str(fallback_id or "")
        return f"#{fid[-6:]}" if fid else "—"
    return s


@dataclass
class ReportData:
    week_start: dt.date
    brand: str
    brand_display: str
    snapshot_version: str
    data_as_of: str | None
    built_at: str
    timezone: str = "Asia/Shanghai"  # weeks run Monday–Sunday in this zone
    kpis: pl.DataFrame | None = None  # weekly_kpis rows, up to TREND_WEEKS weeks ending with the report week
    kpi_row: dict | None = None  # the report week's row
    attribution: dict[str, float] | None = None  # method -> GMV credited to 大C; "total" -> GMV
    top_dacs: pl.DataFrame | None = None  # rank, name, gmv_attributed_avg, own_gmv, members_served, change
    movers_up: pl.DataFrame | None = None
    movers_down: pl.DataFrame | None = None
    group_alerts: pl.DataFrame | None = None  # group, alert_type, reason
    group_alerts_total: int = 0
    at_risk: pl.DataFrame | None = None  # band, members, historic_clv, predicted_clv_12m
    at_risk_as_of: str | None = None
    model_fallback: bool = False
    data_quality: dict | None = None
    checks: list[CheckStatus] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # section -> missing table


def _week_rows(df: pl.DataFrame, col: str, week: dt.date) -> pl.DataFrame:
    return df.filter(pl.col(col).cast(pl.Date) == week)


def load_report_data(
    snap: Snapshot,
    week_start: dt.date,
    brand: str,
    brand_display: str,
    checks: list[CheckStatus] | None = None,
    timezone: str = "Asia/Shanghai",
) -> ReportData:
    d = ReportData(
        week_start=week_start,
        timezone=timezone,
        brand=brand,
        brand_display=brand_display,
        snapshot_version=snap.version,
        data_as_of=snap.data_as_of,
        built_at=snap.built_at,
        checks=list(checks or []),
    )
    _kpis(snap, d)
    _dacs(snap, d)
    _groups(snap, d)
    _members(snap, d)
    _quality(snap, d)
    return d


def _kpis(snap: Snapshot, d: ReportData) -> None:
    if not snap.has(T_KPIS):
        d.missing["kpis"] = T_KPIS
        return
    first = d.week_start - dt.timedelta(weeks=TREND_WEEKS - 1)
    df = (
        snap.scan(T_KPIS)
        .with_columns(pl.col("week_start").cast(pl.Date))
        .filter((pl.col("week_start") >= first) & (pl.col("week_start") <= d.week_start))
        .sort("week_start")
        .collect()
    )
    d.kpis = df
    row = _week_rows(df, "week_start", d.week_start)
    d.kpi_row = row.to_dicts()[0] if row.height else None
    if d.kpi_row and d.kpi_row.get("gmv_attr_group") is not None:
        d.attribution = {m: float(d.kpi_row.get(f"gmv_attr_{m}") or 0) for m in METHODS}
        d.attribution["total"] = float(d.kpi_row.get("gmv") or 0)


def _names(snap: Snapshot) -> pl.DataFrame | None:
    if snap.has(T_MEMBERS):
        cols = snap.scan(T_MEMBERS).collect_schema().names()
        if "display_name_masked" in cols:
            return (
                snap.scan(T_MEMBERS)
                .select(pl.col("member_id").alias("dac_id"), "display_name_masked")
                .collect()
            )
    return None


def _dacs(snap: Snapshot, d: ReportData) -> None:
    if not snap.has(T_DAC):
        d.missing["dacs"] = T_DAC
        return
    prev = d.week_start - dt.timedelta(weeks=1)
    lf = snap.scan(T_DAC).with_columns(pl.col("week_start").cast(pl.Date))
    cols = lf.collect_schema().names()
    value = "gmv_attributed_avg" if "gmv_attributed_avg" in cols else "gmv_group"
    keep = [c for c in ("dac_id", value, "own_gmv", "members_served", "rank") if c in cols]
    this = lf.filter(pl.col("week_start") == d.week_start).select(keep).collect()
    last = lf.filter(pl.col("week_start") == prev).select("dac_id", pl.col(value).alias("_prev")).collect()
    both = (
        this.join(last, on="dac_id", how="full", coalesce=True)
        .with_columns(
            pl.col(value).cast(pl.Float64).fill_null(0).alias("value"),
            pl.col("_prev").cast(pl.Float64).fill_null(0).alias("prev"),
        )
        .with_columns((pl.col("value") - pl.col("prev")).alias("change"))
    )
    names = _names(snap)
    if names is not None:
        both = both.join(names, on="dac_id", how="left")
    else:
        both = both.with_columns(pl.lit(None, pl.String).alias("display_name_masked"))
    both = both.with_columns(
        pl.struct("display_name_masked", "dac_id")
        .map_elements(lambda r: safe_name(r["display_name_masked"], r["dac_id"]), return_dtype=pl.String)
        .alias("name")
    )
    top = both.filter(pl.col("value") > 0).sort(["value", "dac_id"], descending=[True, False]).head(TOP_N)
    d.top_dacs = top.with_row_index("pos", offset=1)
    d.movers_up = (
        both.filter(pl.col("change") > 0).sort(["change", "dac_id"], descending=[True, False]).head(MOVERS_N)
    )
    d.movers_down = both.filter(pl.col("change") < 0).sort(["change", "dac_id"]).head(MOVERS_N)


def _groups(snap: Snapshot, d: ReportData) -> None:
    if not snap.has(T_GROUP_ALERTS):
        d.missing["groups"] = T_GROUP_ALERTS
        return
    df = _week_rows(snap.table(T_GROUP_ALERTS), "week_start", d.week_start)
    d.group_alerts_total = df.height
    if "alert_type" in df.columns:  # zombies first, then the longest silences / biggest groups
        order = [pl.col("alert_type") != "zombie"]
        desc = [False]
        if "members_end" in df.columns:
            order.append(pl.col("members_end").fill_null(0))
            desc.append(True)
        df = df.sort(order, descending=desc)
    names = _names(snap)
    if names is not None and "owner_member_id" in df.columns:
        df = df.join(
            names.rename({"dac_id": "owner_member_id", "display_name_masked": "owner_name"}),
            on="owner_member_id",
            how="left",
        )
    rows = []
    for r in df.head(MAX_GROUP_ALERTS).to_dicts():
        gid = str(r.get("group_id") or "")
        owner = safe_name(r.get("owner_name"), r.get("owner_member_id")) if r.get("owner_member_id") else "—"
        rows.append(
            {
                "group": f"#{gid[-6:]}" if gid else "—",
                "owner": owner,
                "members_end": r.get("members_end"),
                "alert_type": r.get("alert_type") or "",
                "reason_zh": scrub(r.get("reason_zh") or ""),
                "reason_en": scrub(r.get("reason_en") or r.get("reason_zh") or ""),
            }
        )
    d.group_alerts = pl.DataFrame(
        rows,
        schema={
            "group": pl.String,
            "owner": pl.String,
            "members_end": pl.Int64,
            "alert_type": pl.String,
            "reason_zh": pl.String,
            "reason_en": pl.String,
        },
    )


def _members(snap: Snapshot, d: ReportData) -> None:
    if not snap.has(T_MEMBERS):
        d.missing["members"] = T_MEMBERS
        return
    lf = snap.scan(T_MEMBERS)
    cols = lf.collect_schema().names()
    if "churn_band" not in cols:
        d.missing["members"] = f"{T_MEMBERS}.churn_band"
        return
    value = [
        pl.col(c).cast(pl.Float64).fill_null(0).sum().alias(c)
        for c in ("historic_clv", "predicted_clv_12m")
        if c in cols
    ]
    agg = (
        lf.filter(pl.col("churn_band").is_not_null())
        .group_by("churn_band")
        .agg(pl.len().alias("members"), *value)
        .collect()
    )
    bands = pl.DataFrame({"churn_band": ["high", "medium", "low"]})
    d.at_risk = bands.join(agg, on="churn_band", how="left").fill_null(0)
    if "as_of_date" in cols:
        v = lf.select(pl.col("as_of_date").max()).collect().item()
        d.at_risk_as_of = str(v) if v is not None else None
    if snap.has(T_MODEL):
        model = snap.table(T_MODEL)
        if "status" in model.columns and model.height:
            d.model_fallback = str(model["status"][0]) != "fitted"


def _quality(snap: Snapshot, d: ReportData) -> None:
    q: dict = {}
    if snap.has(T_MANIFEST):
        m = snap.table(T_MANIFEST)
        q["files"] = m.height
        q["registered"] = int((m["status"] == "registered").sum()) if "status" in m.columns else m.height
        q["rows"] = int(m["row_count"].fill_null(0).sum()) if "row_count" in m.columns else None
    if snap.has(T_RECON):
        r = snap.table(T_RECON)
        q["loaded"] = int(r["rows_loaded"].sum())
        q["quarantined"] = int(r["rows_quarantined"].sum())
        q["reconciled"] = int(r["reconciled"].sum())
        q["recon_total"] = r.height
        q.setdefault("rows", int(r["rows_in"].sum()))
    elif snap.has(T_QUARANTINE):
        q["quarantined"] = int(snap.table(T_QUARANTINE)["rows_quarantined"].sum())
    if d.checks:
        q["checks_ok"] = sum(c.passed for c in d.checks)
        q["checks_failed"] = sum(not c.passed for c in d.checks)
    if not q:
        d.missing["quality"] = f"{T_MANIFEST}, {T_RECON}"
        return
    d.data_quality = q
