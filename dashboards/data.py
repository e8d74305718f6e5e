"""Thin data access over the serving snapshot — the only data the dashboard reads.

The dashboard never opens the warehouse DuckDB file. Every run of a page reads the small ``CURRENT`` pointer (so a
newly published snapshot shows up without restarting the app) and loads tables through ``st.cache_data`` keyed on
the snapshot's path and version, so a given version is read from disk once.

Mart schemas are owned by the mart engineers (docs/marts/*.md). ``ALIASES`` maps the few column names that have
more than one spelling across marts onto the names the pages use; it is the one place to adapt when a mart renames
a column.
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
QUARANTINE_ROWS = "quarantine.rows"
IDENTITY_MATCH_RATE = "ops.identity_match_rate"
CHECK_RESULTS = "ops.check_results"
STAGING_GROUPS = "staging.groups"
STAGING_MEMBERS = "staging.members"
DACS = "marts.dacs"
GROUP_BRAND_WEEKLY = "marts.group_brand_weekly"
REFERRAL_GENERATION_GMV = "marts.referral_generation_gmv"
REFERRAL_KFACTOR_COHORT = "marts.referral_kfactor_cohort"
REFERRAL_ANOMALIES = "marts.referral_anomalies"
QUARANTINE_SUMMARY = "quarantine.summary"
QUARANTINE_SAMPLE = "quarantine.rows_sample"

# alias -> name used by the pages, per table ("*" = any table)
ALIASES: dict[str, dict[str, str]] = {
    "*": {"week": "week_start", "iso_week": "week_start"},
    DAC_CONTRIBUTION_WEEKLY: {"dac_member_id": "dac_id", "member_id": "dac_id"},
    REFERRAL_TREE_STATS: {"root_member_id": "root_dac_id", "root_id": "root_dac_id"},
    REFERRAL_TREE: {
        "parent_member_id": "parent_id",
        "root_member_id": "root_dac_id",
        "root_id": "root_dac_id",
    },
    DAC_ALERTS: {"dac_member_id": "dac_id", "member_id": "dac_id"},
    GROUP_VITALITY_WEEKLY: {"owner_member_id": "owner_id", "dac_id": "owner_id"},
    GROUP_ALERTS: {"owner_member_id": "owner_id"},
    STAGING_GROUPS: {"owner_member_id": "owner_id"},
    MEMBER_LIFETIME: {"serving_dac_member_id": "serving_dac_id", "home_group": "home_group_id"},
    MEMBER_LIFECYCLE_WEEKLY: {
        f"n_{s}": s for s in ("new", "returning", "resurrected", "active", "dormant", "churned")
    },
}

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
    renames = {}
    for alias, canonical in {**ALIASES["*"], **ALIASES.get(name, {})}.items():
        if alias in df.columns and canonical not in df.columns and canonical not in renames.values():
            renames[alias] = canonical
    if renames:
        df = df.rename(renames)
    decimals = [c for c, tp in df.schema.items() if isinstance(tp, pl.Decimal)]
    if decimals:  # money is DECIMAL(18,2) in the marts; charts and sums want floats
        df = df.with_columns(pl.col(decimals).cast(pl.Float64))
    if "week_start" in df.columns:
        dt = df.schema["week_start"]
        if dt == pl.String:
            df = df.with_columns(
                pl.col("week_start").map_elements(_iso_week_to_monday, return_dtype=pl.Date)
                if df["week_start"].str.contains("W").any()
                else pl.col("week_start").str.to_date(strict=False)
            )
        elif isinstance(dt, pl.Datetime):
            df = df.with_columns(pl.col("week_start").dt.date())
    return df


@st.cache_data(max_entries=256, show_spinner=False)
def table(key: SnapKey, name: str) -> pl.DataFrame | None:
    """One whole table of the snapshot (normalised column names), or None when it is not published."""
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
        if df is not None and "week_start" in df.columns:
            activity = [c for c in ("gmv", "orders", "new_members") if c in df.columns]
            if (
                name == WEEKLY_KPIS and activity
            ):  # the KPI table has zero rows for weeks before the data starts
                df = df.filter(pl.any_horizontal(pl.col(c).fill_null(0) > 0 for c in activity))
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
        (GROUP_VITALITY_WEEKLY, "owner_id"),
        (STAGING_GROUPS, "owner_id"),
    ):
        df = table(key, name)
        if df is not None and col in df.columns:
            ids.update(x for x in df[col].drop_nulls().unique().to_list() if x and x != BRAND_DIRECT)
    names = masked_names(key, sorted(ids))
    return {i: f"{names.get(i) or '大C'} ({short_id(i)})" for i in sorted(ids)}


def masked_names(key: SnapKey, ids: list[str] | None = None) -> dict[str, str]:
    """member id -> masked display name (``王*``), for the given ids (default: all)."""
    for name in (MEMBER_LIFETIME, STAGING_MEMBERS):
        df = table(key, name)
        if df is not None and "member_id" in df.columns:
            col = next((c for c in ("display_name_masked", "name_masked") if c in df.columns), None)
            if col:
                if ids is not None:
                    df = df.filter(pl.col("member_id").is_in(ids))
                return dict(zip(df["member_id"].to_list(), df[col].to_list(), strict=True))
    return {}


@st.cache_data(max_entries=32, show_spinner=False)
def group_labels(key: SnapKey) -> dict[str, str]:
    """group id -> group name (business names, kept; a person's name inside is masked, see mask_group_name)."""
    for name in (STAGING_GROUPS, GROUP_VITALITY_WEEKLY):
        df = table(key, name)
        if df is not None and "group_id" in df.columns:
            if "group_name" in df.columns:
                pairs = df.select("group_id", "group_name").unique(subset="group_id").sort("group_id")
                return {g: (mask_group_name(n) or g) for g, n in pairs.iter_rows()}
            return {g: g for g in sorted(df["group_id"].drop_nulls().unique().to_list())}
    return {}


@st.cache_data(max_entries=32, show_spinner=False)
def groups_of_dac(key: SnapKey, dac_id: str) -> list[str]:
    for name in (STAGING_GROUPS, GROUP_VITALITY_WEEKLY):
        df = table(key, name)
        if df is not None and {"group_id", "owner_id"} <= set(df.columns):
            return sorted(df.filter(pl.col("owner_id") == dac_id)["group_id"].unique().to_list())
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
