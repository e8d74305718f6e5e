"""Thin data access over the serving snapshot — the only data the dashboard reads.

The dashboard never opens the warehouse DuckDB file. Every run of a page reads the small ``CURRENT`` pointer (so a
newly published snapshot shows up without restarting the app) and loads tables through ``st.cache_data`` keyed on
the snapshot's path and version, so a given version is read from disk once.

Mart schemas are owned by the mart engineers (docs/marts/*.md); the pages use the marts' own column names.
``COLUMNS`` lists what the pages read from each table; a published table without one of them raises
``SchemaMismatch`` (loudly, never a silently empty chart or a filter that does nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from xiaoshuju.serving import NoSnapshotError, Snapshot, current_snapshot
from xiaoshuju.settings import load_settings

# Tables the pages read (schema.table as published in the snapshot).
WEEKLY_KPIS = "marts.weekly_kpis"
MEMBER_LIFETIME = "marts.member_lifetime"
CLV_MODEL = "marts.clv_model"
CLV_CALIBRATION = "marts.clv_calibration"
COHORT_RETENTION = "marts.cohort_retention"
MEMBER_LIFECYCLE_WEEKLY = "marts.member_lifecycle_weekly"
GROUP_VITALITY_WEEKLY = "marts.group_vitality_weekly"
GROUP_ALERTS = "marts.group_alerts"
GROUP_SURVIVAL = "marts.group_survival"
ORDER_ATTRIBUTION = "marts.order_attribution"
DAC_CONTRIBUTION_WEEKLY = "marts.dac_contribution_weekly"
DAC_CONCENTRATION_WEEKLY = "marts.dac_concentration_weekly"
DAC_ALERTS = "marts.dac_alerts"
REFERRAL_TREE = "marts.referral_tree"
REFERRAL_TREE_STATS = "marts.referral_tree_stats"
MANIFEST = "landing.manifest"
RECONCILIATION = "ops.reconciliation"
IDENTITY_MATCH_RATE = "ops.identity_match_rate"
# latest result of every asset check (asset, check_name, passed, severity[, partition]; the contract of
# assets/reports/checks.py) — not published by the pipeline yet, so the page says "not available"
CHECK_STATUS = "ops.check_status"
ALERT_LOG = "ops.alert_log"
STAGING_GROUPS = "staging.groups"
DACS = "marts.dacs"
GROUP_BRAND_WEEKLY = "marts.group_brand_weekly"
REFERRAL_GENERATION_GMV = "marts.referral_generation_gmv"
REFERRAL_KFACTOR_COHORT = "marts.referral_kfactor_cohort"
REFERRAL_ANOMALIES = "marts.referral_anomalies"
QUARANTINE_SUMMARY = "quarantine.summary"
QUARANTINE_SAMPLE = "quarantine.rows_sample"

# The columns each page reads, per table: real names of the published marts (docs/marts/*.md). A table that is
# not in the snapshot is "not available"; a table that is there but lacks one of these columns is a broken
# contract between a mart and the dashboard and raises SchemaMismatch (tests/dashboards check the hand-made
# snapshots and the real S snapshot against this list).
COLUMNS: dict[str, tuple[str, ...]] = {
    WEEKLY_KPIS: (
        "week_start",
        "gmv",
        "orders",
        "buyers",
        "new_members",
        "active_groups",
        "zombie_groups",
        "active_dacs",
        "new_dacs",
        "predicted_clv_12m_base",
        "gmv_attr_group",
        "gmv_attr_first_touch",
        "gmv_attr_last_touch",
    ),
    MEMBER_LIFETIME: (
        "member_id",
        "display_name_masked",
        "orders",
        "historic_clv",
        "p_alive",
        "predicted_clv_12m",
        "churn_risk",
        "churn_band",
        "rfm_segment",
        "lifecycle_state",
        "home_group_id",
        "serving_dac_id",
        "role_level",
        "l4_rule",
        "last_order_at",
        "expected_next_order_date",
    ),
    COHORT_RETENTION: (
        "cohort_month",
        "months_since",
        "cohort_size",
        "cohort_active",
        "retention_classic",
        "cohort_active_or_later",
        "retention_unbounded",
    ),
    MEMBER_LIFECYCLE_WEEKLY: (
        "week_start",
        "n_new",
        "n_returning",
        "n_resurrected",
        "n_active",
        "n_dormant",
        "n_churned",
        "buyers",
        "gmv",
    ),
    GROUP_VITALITY_WEEKLY: (
        "group_id",
        "week_start",
        "owner_member_id",
        "members_end",
        "joins",
        "leaves",
        "messages",
        "member_messages",
        "speakers",
        "speak_rate",
        "owner_share",
        "owner_dependence",
        "member_questions",
        "median_first_response_minutes",
        "buyers",
        "orders",
        "gmv",
        "conversion",
        "score_speak_rate",
        "score_activity",
        "score_conversion",
        "score_growth",
        "score_response",
        "vitality_score",
        "lifecycle_state",
        "zombie_since",
    ),
    GROUP_ALERTS: (
        "week_start",
        "group_id",
        "owner_member_id",
        "alert_type",
        "vitality_score",
        "silence_days",
        "zombie_since",
        "members_end",
        "reason_zh",
        "reason_en",
    ),
    GROUP_SURVIVAL: ("cohort", "t_days", "survival"),
    DAC_CONTRIBUTION_WEEKLY: (
        "week_start",
        "dac_id",
        "own_gmv",
        "gmv_group",
        "gmv_first_touch",
        "gmv_last_touch",
        "gmv_attributed_avg",
        "attributed_orders",
        "messages_sent",
        "groups_owned",
        "members_served",
        "active_members",
        "new_referrals",
        "referee_first_orders",
        "member_retention",
        "retention_vs_brand",
        "promotions",
        "referral_value",
        "referral_value_to_date",
        "own_gmv_to_date",
        "historic_clv",
        "predicted_clv_12m",
        "clv_referral_cell",
    ),
    DAC_CONCENTRATION_WEEKLY: ("week_start", "method", "gini", "dacs_for_half_gmv", "top20_share"),
    DAC_ALERTS: (
        "week_start",
        "dac_id",
        "alert_type",
        "silent_days",
        "activity_8w",
        "reason_zh",
        "reason_en",
    ),
    DACS: ("dac_id", "is_l4", "is_group_owner", "dac_since", "groups_owned"),
    REFERRAL_TREE: (
        "member_id",
        "parent_id",
        "root_dac_id",
        "generation",
        "join_date",
        "joined_at",
        "is_dac",
    ),
    REFERRAL_TREE_STATS: (
        "root_dac_id",
        "tree_size",
        "tree_depth",
        "max_breadth",
        "structural_virality",
        "k_factor",
        "cycle_time_days",
        "promoted_dacs",
        "downline_gmv",
    ),
    REFERRAL_GENERATION_GMV: ("root_dac_id", "generation", "members", "buyers", "downline_gmv"),
    REFERRAL_KFACTOR_COHORT: ("cohort_month", "k_factor", "cohort_members", "referees_28d"),
    REFERRAL_ANOMALIES: (
        "kind",
        "member_id",
        "referrer_member_id",
        "cycle_length",
        "edge_dropped",
        "detail_zh",
        "detail_en",
    ),
    STAGING_GROUPS: ("group_id", "group_name", "owner_member_id"),
    MANIFEST: (
        "file_name",
        "detected_format",
        "encoding",
        "row_count",
        "size_bytes",
        "first_ts",
        "last_ts",
        "status",
        "problem",
        "first_seen_at",
        "seen_count",
        "ingested_at",
    ),
    RECONCILIATION: ("file_name", "rows_in", "rows_quarantined", "reconciled"),
    QUARANTINE_SUMMARY: ("reason_code", "rows_quarantined"),
    QUARANTINE_SAMPLE: ("file_name", "source_format", "line_no", "reason_code", "reason", "preview_masked"),
    IDENTITY_MATCH_RATE: ("source_format", "match_rate"),
    CLV_MODEL: (
        "status",
        "status_reason",
        "n_customers",
        "calibration_status",
        "holdout_predicted_repeat",
        "holdout_actual_repeat",
        "holdout_error_pct",
    ),
    CLV_CALIBRATION: ("bucket", "bucket_order", "predicted_repeat", "actual_repeat"),
    CHECK_STATUS: ("asset", "check_name", "passed", "severity"),
}


class SchemaMismatch(RuntimeError):
    """A published table lacks a column the dashboard reads: the mart and the dashboard disagree (a bug to fix,
    never something to hide)."""


BRAND_DIRECT = "brand_direct"
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


@dataclass(frozen=True)
class SnapKey:
    """Hashable identity of a snapshot: the cache key of every query."""

    path: str
    version: str


def serving_dir() -> Path:
    return load_settings().serving


def current() -> tuple[SnapKey | None, Snapshot | None]:
    """The snapshot CURRENT points at, or (None, None) when none is published. Read on every run (cheap)."""
    try:
        snap = current_snapshot(serving_dir())
    except (NoSnapshotError, OSError, ValueError):
        return None, None
    return SnapKey(str(snap.path), snap.version), snap


def _iso_week_to_monday(s: str) -> date | None:
    try:
        return datetime.strptime(s + "-1", "%G-W%V-%u").date()
    except ValueError:
        return None


def _normalise(name: str, df: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in COLUMNS.get(name, ()) if c not in df.columns]
    if missing:
        raise SchemaMismatch(
            f"{name} in the serving snapshot has no column(s) {missing}: see docs/marts/ and "
            "dashboards/data.py COLUMNS"
        )
    decimals = [c for c, tp in df.schema.items() if isinstance(tp, pl.Decimal)]
    if decimals:  # money is DECIMAL(18,2) in the marts; charts and sums want floats
        df = df.with_columns(pl.col(decimals).cast(pl.Float64))
    return df


@st.cache_data(max_entries=256, show_spinner=False)
def table(key: SnapKey, name: str) -> pl.DataFrame | None:
    """One whole table of the snapshot (money as floats), or None when it is not published. Raises SchemaMismatch
    when the table lacks a column listed in COLUMNS."""
    p = Path(key.path) / f"{name}.parquet"
    if not p.exists():
        return None
    return _normalise(name, pl.read_parquet(p))


def has(key: SnapKey, name: str) -> bool:
    return (Path(key.path) / f"{name}.parquet").exists()


def is_empty(key: SnapKey) -> bool:
    """True when the snapshot has no mart rows at all (e.g. the pipeline ran on an empty inbox)."""
    for name in (WEEKLY_KPIS, MEMBER_LIFETIME, GROUP_VITALITY_WEEKLY, DAC_CONTRIBUTION_WEEKLY):
        df = table(key, name)
        if df is not None and df.height > 0:
            return False
    return True


@st.cache_data(max_entries=32, show_spinner=False)
def weeks(key: SnapKey) -> list[date]:
    """Every week (Monday) present in any weekly mart, ascending."""
    found: set[date] = set()
    for name in (WEEKLY_KPIS, GROUP_VITALITY_WEEKLY, DAC_CONTRIBUTION_WEEKLY):
        df = table(key, name)
        if df is not None:
            if name == WEEKLY_KPIS:  # the KPI table has zero rows for weeks before the data starts
                df = df.filter(
                    pl.any_horizontal(pl.col(c).fill_null(0) > 0 for c in ("gmv", "orders", "new_members"))
                )
            found.update(d for d in df["week_start"].drop_nulls().unique().to_list() if d is not None)
    return sorted(found)


def week_label(d: date | None) -> str:
    if d is None:
        return "—"
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def week_from_label(s: str | None) -> date | None:
    return _iso_week_to_monday(s) if s else None


def short_id(member_id: str | None) -> str:
    if not member_id:
        return "—"
    return member_id[-6:] if len(member_id) > 8 else member_id


@st.cache_data(max_entries=32, show_spinner=False)
def dac_labels(key: SnapKey) -> dict[str, str]:
    """大C id -> masked display label, e.g. ``王* (ab12cd)``; only 大C (owners, contributors, tree roots)."""
    ids: set[str] = set()
    for name, col in (
        (DACS, "dac_id"),
        (DAC_CONTRIBUTION_WEEKLY, "dac_id"),
        (GROUP_VITALITY_WEEKLY, "owner_member_id"),
        (STAGING_GROUPS, "owner_member_id"),
    ):
        df = table(key, name)
        if df is not None:
            ids.update(x for x in df[col].drop_nulls().unique().to_list() if x and x != BRAND_DIRECT)
    names = masked_names(key, sorted(ids))
    return {i: f"{names.get(i) or '大C'} ({short_id(i)})" for i in sorted(ids)}


def masked_names(key: SnapKey, ids: list[str] | None = None) -> dict[str, str]:
    """member id -> masked display name (``王*``), for the given ids (default: all)."""
    df = table(key, MEMBER_LIFETIME)
    if df is None:
        return {}
    if ids is not None:
        df = df.filter(pl.col("member_id").is_in(ids))
    return dict(zip(df["member_id"].to_list(), df["display_name_masked"].to_list(), strict=True))


@st.cache_data(max_entries=32, show_spinner=False)
def group_labels(key: SnapKey) -> dict[str, str]:
    """group id -> group name (business names, kept; a person's name inside is masked, see mask_group_name)."""
    df = table(key, STAGING_GROUPS)
    if df is not None:
        pairs = df.select("group_id", "group_name").unique(subset="group_id").sort("group_id")
        return {g: (mask_group_name(n) or g) for g, n in pairs.iter_rows()}
    gv = table(key, GROUP_VITALITY_WEEKLY)  # no names published: the ids
    return {g: g for g in sorted(gv["group_id"].drop_nulls().unique().to_list())} if gv is not None else {}


@st.cache_data(max_entries=32, show_spinner=False)
def groups_of_dac(key: SnapKey, dac_id: str) -> list[str]:
    for name in (STAGING_GROUPS, GROUP_VITALITY_WEEKLY):
        df = table(key, name)
        if df is not None:
            return sorted(df.filter(pl.col("owner_member_id") == dac_id)["group_id"].unique().to_list())
    return []


# Group (and chat-export file) names are business names and are kept, but they are often named after the owner:
# "王小明的团购群". The 2–4 Han characters before 的 are treated as a person's name and masked: "王**的团购群".
_NAME_BEFORE_DE = r"(\p{Han})\p{Han}{1,3}的"
_NAME_BEFORE_DE_PY = re.compile(r"([\u4e00-\u9fff])[\u4e00-\u9fff]{1,3}的")
NAME_LIKE_COLUMNS = (
    "group",
    "group_name",
    "file_name",
    "archived_path",
    "root",
    "owner",
    "dac",
    "serving_dac",
)


def mask_group_name(name: str | None) -> str | None:
    return _NAME_BEFORE_DE_PY.sub(r"\1**的", name) if name else name


def mask_text(value: str) -> str:
    """Last line of defence: any 11-digit mainland mobile number in text becomes ``138****1234``."""
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", value)


def masked(df: pl.DataFrame) -> pl.DataFrame:
    """Mask phone-like digit runs in every string column, and owner names inside group / file names (every table
    passes here before display and export)."""
    cols = [c for c, t in df.schema.items() if t == pl.String]
    if not cols:
        return df
    names = [c for c in cols if c in NAME_LIKE_COLUMNS]
    if names:
        df = df.with_columns(pl.col(names).str.replace_all(_NAME_BEFORE_DE, "${1}**的"))
    return df.with_columns(
        pl.col(c).str.replace_all(r"(^|\D)(1[3-9]\d)\d{4}(\d{4})(\D|$)", "${1}${2}****${3}${4}") for c in cols
    )


def as_of_date(data_as_of: str | None, tz: str = "Asia/Shanghai") -> date | None:
    """The local date of the snapshot's newest business event."""
    if not data_as_of:
        return None
    try:
        ts = datetime.fromisoformat(data_as_of)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return ts.date()
    return ts.astimezone(ZoneInfo(tz)).date()


def is_complete(week: date | None, as_of: date | None) -> bool:
    """A week (Monday) is complete when the data reaches its Sunday."""
    return week is None or as_of is None or week + timedelta(days=6) <= as_of


def week_window(
    all_weeks: list[date], w_from: date | None, w_to: date | None, as_of: date | None = None
) -> tuple[date | None, date | None]:
    """Clamp a requested week range to the weeks present. Default: the whole history up to the last complete week
    (the pipeline also publishes the running week, week-to-date; a brand manager's "this week" is the last full
    one — the running week stays selectable)."""
    if not all_weeks:
        return None, None
    complete = [w for w in all_weeks if is_complete(w, as_of)] or all_weeks
    lo = w_from if w_from in all_weeks else all_weeks[0]
    hi = w_to if w_to in all_weeks else complete[-1]
    if lo > hi:
        lo, hi = hi, lo
    return lo, hi


def previous_week(d: date) -> date:
    return d - timedelta(days=7)
