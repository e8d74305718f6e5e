"""会员 Members: segments, CLV and churn-risk distributions, cohort retention, lifecycle flows, at-risk members.

不穿透: member-level lists appear only through the 大C who serves them (pick a 大C in the sidebar); without one the
page shows aggregates per 大C.
"""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, ui
from dashboards.i18n import value_label

LIFECYCLE = ("new", "returning", "resurrected", "active", "dormant", "churned")  # columns n_<state>
MEMBER_COLS = (
    "member_id",
    "display_name_masked",
    "rfm_segment",
    "churn_risk",
    "churn_band",
    "p_alive",
    "predicted_clv_12m",
    "historic_clv",
    "orders",
    "last_order_at",
    "expected_next_order_date",
    "lifecycle_state",
    "role_level",
    "l4_rule",
    "home_group",
)


@st.cache_data(max_entries=64, show_spinner=False)
def scoped_members(key: data.SnapKey, dac: str | None, group: str | None) -> pl.DataFrame | None:
    df = data.table(key, data.MEMBER_LIFETIME)
    if df is None:
        return None
    if dac:
        df = df.filter(pl.col("serving_dac_id") == dac)
    if group:
        df = df.filter(pl.col("home_group_id") == group)
    return df


def main() -> None:
    c = ui.page_start("members_title")
    ml = ui.require(c, data.MEMBER_LIFETIME)
    if ml is not None:
        m = scoped_members(c.key, c.dac, c.group)
        _summary(c, m)
        left, right = st.columns(2)
        with left:
            _segments(c, m)
        with right:
            _roles(c, m)
        left, right = st.columns(2)
        with left:
            _histogram(c, m, "predicted_clv_12m", "clv_distribution")
        with right:
            _histogram(c, m, "churn_risk", "churn_distribution")
    _cohorts(c)
    _lifecycle(c)
    if ml is not None:
        _at_risk(c, scoped_members(c.key, c.dac, c.group))


def _summary(c: ui.Ctx, m: pl.DataFrame) -> None:
    cols = st.columns(4)
    cols[0].metric(c.t("members_count"), f"{m.height:,}")
    buyers = m.filter(pl.col("orders") > 0)
    for col, key, how in (
        (cols[1], "historic_clv", "sum"),
        (cols[2], "predicted_clv_12m", "sum"),
        (cols[3], "churn_risk", "mean"),
    ):
        s = buyers[key].drop_nulls()
        ui.metric_card(c, col, key, (s.mean() if how == "mean" else s.sum()) if s.len() else None)


def _segments(c: ui.Ctx, m: pl.DataFrame) -> None:
    st.subheader(c.t("segments"))
    agg = [pl.len().alias("members_count"), pl.col("predicted_clv_12m").sum()]
    seg = (
        m.filter(pl.col("rfm_segment").is_not_null())
        .group_by("rfm_segment")
        .agg(agg)
        .sort("members_count", descending=True)
        .with_columns(
            pl.col("rfm_segment")
            .map_elements(lambda v: value_label(v, c.lang), return_dtype=pl.String)
            .alias("segment")
        )
    )
    if seg.height:
        ui.chart(
            alt.Chart(seg.to_pandas())
            .mark_bar()
            .encode(
                x=alt.X("members_count:Q", title=c.t("members_count")),
                y=alt.Y("segment:N", sort="-x", title=c.t("segment")),
                tooltip=["segment", "members_count"],
            ),
            height=260,
        )
    ui.show_table(
        c,
        seg.select("segment", *[x for x in seg.columns if x not in ("segment", "rfm_segment")]),
        "rfm_segments",
    )


def _roles(c: ui.Ctx, m: pl.DataFrame) -> None:
    st.subheader(c.t("roles"))
    roles = m.group_by("role_level").agg(pl.len().alias("members_count")).sort("role_level")
    ui.chart(
        alt.Chart(roles.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("role_level:N", title=c.t("role_level")),
            y=alt.Y("members_count:Q", title=c.t("members_count")),
            tooltip=["role_level", "members_count"],
        ),
        height=260,
    )


@st.cache_data(max_entries=64, show_spinner=False)
def binned(key: data.SnapKey, dac: str | None, group: str | None, col: str, bins: int = 30) -> pl.DataFrame:
    """Histogram counts computed here (30 bins, by churn band when known): the browser gets 30 rows, not 100k."""
    m = scoped_members(key, dac, group)
    by = ["churn_band"] if col == "churn_risk" else []
    vals = m.select(pl.col(col).cast(pl.Float64), *by).drop_nulls()
    if vals.height == 0:
        return pl.DataFrame()
    lo, hi = (0.0, 1.0) if col == "churn_risk" else (float(vals[col].min()), float(vals[col].max()))
    width = (hi - lo) / bins or 1.0
    idx = ((pl.col(col) - lo) / width).floor().clip(0, bins - 1)
    return (
        vals.group_by(idx.alias("bin"), *by)
        .agg(pl.len().alias("members_count"))
        .with_columns(
            (pl.col("bin") * width + lo).alias("bin_start"),
            ((pl.col("bin") + 1) * width + lo).alias("bin_end"),
        )
        .sort("bin")
    )


def _histogram(c: ui.Ctx, m: pl.DataFrame, key: str, title: str) -> None:
    st.subheader(c.t(title), help=c.help(key))
    hist = binned(c.key, c.dac, c.group, key)
    if hist.height == 0:
        st.caption(c.t("no_rows"))
        return
    enc = {
        "x": alt.X("bin_start:Q", title=c.label(key), bin="binned"),
        "x2": "bin_end:Q",
        "y": alt.Y("members_count:Q", stack=True, title=c.t("members_count")),
        "tooltip": [
            alt.Tooltip("bin_start:Q", format=",.2f"),
            alt.Tooltip("bin_end:Q", format=",.2f"),
            "members_count",
        ],
    }
    if "churn_band" in hist.columns:
        bands = {b: value_label(b, c.lang) for b in hist["churn_band"].unique().to_list()}
        hist = hist.with_columns(pl.col("churn_band").replace_strict(bands))
        enc["color"] = alt.Color(
            "churn_band:N",
            title=c.t("churn_band"),
            sort=[value_label(b, c.lang) for b in ("low", "medium", "high")],
        )
    ui.chart(alt.Chart(hist.to_pandas()).mark_bar().encode(**enc), height=240)


def _cohorts(c: ui.Ctx) -> None:
    st.header(c.t("cohort_heatmap"))
    cr = ui.require(c, data.COHORT_RETENTION)
    if cr is None:
        return
    a, b = st.columns(2)
    pct = a.toggle(c.t("show_percent"), value=True, key="coh_pct")
    kind = b.radio(
        c.t("retention_kind"), ["classic", "unbounded"], format_func=c.t, horizontal=True, key="coh_kind"
    )
    rate_col = "retention_classic" if kind == "classic" else "retention_unbounded"
    abs_col = "cohort_active" if kind == "classic" else "cohort_active_or_later"
    cr = cr.with_columns(pl.col("cohort_month").cast(pl.String).str.slice(0, 7).alias("cohort"))
    value = rate_col if pct else abs_col
    base = alt.Chart(
        cr.select("cohort", "months_since", "cohort_size", rate_col, abs_col).to_pandas()
    ).encode(
        x=alt.X("months_since:O", title=c.t("months_since")),
        y=alt.Y("cohort:O", title=c.t("cohort_month")),
    )
    heat = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", title=c.label(value), scale=alt.Scale(scheme="blues")),
        tooltip=[
            "cohort",
            "months_since",
            "cohort_size",
            alt.Tooltip(f"{rate_col}:Q", format=".1%"),
            abs_col,
        ],
    )
    text = base.mark_text(fontSize=10).encode(text=alt.Text(f"{value}:Q", format=".0%" if pct else ",.0f"))
    ui.chart(heat + text, height=max(160, 22 * cr["cohort"].n_unique()))


def _lifecycle(c: ui.Ctx) -> None:
    st.header(c.t("lifecycle_flows"))
    lw = ui.require(c, data.MEMBER_LIFECYCLE_WEEKLY)
    if lw is None:
        return
    states = list(LIFECYCLE)
    rng = ui.week_col(c.in_range(lw).sort("week_start").rename({f"n_{s}": s for s in states}))
    long = rng.unpivot(
        index="week", on=states, variable_name="state", value_name="members_count"
    ).with_columns(pl.col("state").map_elements(lambda v: value_label(v, c.lang), return_dtype=pl.String))
    if long.height:
        ui.chart(
            alt.Chart(long.to_pandas())
            .mark_area()
            .encode(
                x=alt.X("week:O", title=c.t("week")),
                y=alt.Y("members_count:Q", stack=True, title=c.t("members_count")),
                color=alt.Color("state:N", title=c.t("state"), sort=[value_label(s, c.lang) for s in states]),
                tooltip=["week", "state", "members_count"],
            )
        )
    ui.show_table(
        c,
        rng.select("week", *states, "buyers", "gmv")
        .sort("week", descending=True)
        .rename({s: value_label(s, c.lang) for s in states}),
        "member_lifecycle_weekly",
    )


def _at_risk(c: ui.Ctx, m: pl.DataFrame) -> None:
    st.header(c.t("at_risk"))
    risky = m.filter(pl.col("churn_band") == "high")
    if not c.dac:
        st.info(c.t("dac_first"))
        labels = data.dac_labels(c.key)
        by_dac = (
            risky.group_by("serving_dac_id")
            .agg(
                pl.len().alias("members_count"),
                pl.col("predicted_clv_12m").sum().alias("value_at_risk"),
            )
            .sort("members_count", descending=True)
            .with_columns(
                pl.col("serving_dac_id")
                .replace_strict(labels, default=c.t("brand_direct"))
                .alias("serving_dac")
            )
        )
        st.subheader(c.t("at_risk_by_dac"))
        ui.show_table(
            c,
            by_dac.select(
                "serving_dac", *[x for x in by_dac.columns if x not in ("serving_dac", "serving_dac_id")]
            ),
            "at_risk_by_dac",
        )
        return
    groups = data.group_labels(c.key)
    risky = risky.with_columns(
        pl.col("home_group_id").replace_strict(groups, default=None).alias("home_group")
    )
    ui.show_table(
        c,
        risky.sort("predicted_clv_12m", descending=True, nulls_last=True).select(MEMBER_COLS),
        "members_at_risk",
    )
