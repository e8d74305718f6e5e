"""总览 Overview: this week's KPIs with week-over-week change, GMV by attribution method, trends."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, ui

KPIS = (
    "gmv",
    "orders",
    "buyers",
    "new_members",
    "active_groups",
    "zombie_groups",
    "active_dacs",
    "new_dacs",
    "predicted_clv_12m_base",
)
METHODS = (
    ("gmv_group", "method_group"),
    ("gmv_first_touch", "method_first_touch"),
    ("gmv_last_touch", "method_last_touch"),
)
DAC_CARDS = ("own_gmv", "gmv_group", "gmv_first_touch", "gmv_last_touch", "members_served", "active_members")
MEAN_KEYS = ("vitality_score", "conversion", "speak_rate")
GROUP_CARDS = ("gmv", "buyers", "members_end", "speakers", "vitality_score", "conversion")


def _cards(c: ui.Ctx, rows: pl.DataFrame, keys: tuple[str, ...]) -> None:
    """One card per metric: value in the range's last week, delta vs the week before."""
    this = rows.filter(pl.col("week_start") == c.w_to)
    prev = rows.filter(pl.col("week_start") == data.previous_week(c.w_to))
    cols = st.columns(min(len(keys), 5) or 1)
    for i, k in enumerate(keys):
        agg = "mean" if k in MEAN_KEYS else "sum"
        ui.metric_card(c, cols[i % len(cols)], k, _agg(this[k], agg), _agg(prev[k], agg))


def _agg(s: pl.Series, how: str):
    """Sum (or mean) of a column; None when there is no non-null value (unknown is not zero)."""
    if s.len() == 0 or s.null_count() == s.len():
        return None
    return s.mean() if how == "mean" else s.sum()


def main() -> None:
    c = ui.page_start("overview_title")
    kpis = ui.require(c, data.WEEKLY_KPIS)
    if kpis is not None and c.w_to is not None:
        st.caption(c.t("week_of", week=data.week_label(c.w_to)))
        _cards(c, kpis, KPIS)

    if c.dac:
        dcw = data.table(c.key, data.DAC_CONTRIBUTION_WEEKLY)
        if dcw is not None:
            st.subheader(data.dac_labels(c.key).get(c.dac, c.dac))
            _cards(c, dcw.filter(pl.col("dac_id") == c.dac), DAC_CARDS)
    if c.group:
        gv = data.table(c.key, data.GROUP_VITALITY_WEEKLY)
        if gv is not None:
            st.subheader(data.group_labels(c.key).get(c.group, c.group))
            _cards(c, gv.filter(pl.col("group_id") == c.group), GROUP_CARDS)

    st.header(c.t("trend"))
    if kpis is not None:
        rng = ui.week_col(c.in_range(kpis).sort("week_start"))
        if rng.height:
            pick = st.selectbox(c.t("metric"), KPIS, format_func=c.label, key="ov_trend_metric")
            ui.chart(
                alt.Chart(rng.select("week", pick).to_pandas())
                .mark_line(point=True)
                .encode(
                    x=alt.X("week:O", title=c.t("week")),
                    y=alt.Y(f"{pick}:Q", title=c.label(pick)),
                    tooltip=["week", alt.Tooltip(f"{pick}:Q", title=c.label(pick), format=",.2f")],
                )
                .properties(title=c.label(pick))
            )

    st.header(c.t("gmv_by_attribution"))
    _attribution(c, kpis)

    if kpis is not None:
        st.subheader(c.t("kpi_table"))
        ui.show_table(
            c,
            ui.week_col(c.in_range(kpis).sort("week_start", descending=True)).select(["week", *KPIS]),
            "weekly_kpis",
        )


def _attribution(c: ui.Ctx, kpis: pl.DataFrame | None) -> None:
    """Brand: weekly_kpis.gmv_attr_* vs GMV (the rest is brand direct). With a 大C selected: their share."""
    if c.dac:
        src = data.table(c.key, data.DAC_CONTRIBUTION_WEEKLY)
        cols = {m: m for m, _ in METHODS}
        if src is not None:
            src = src.filter(pl.col("dac_id") == c.dac)
        total = None
    else:
        src = kpis
        cols = {m: "gmv_attr_" + m.removeprefix("gmv_") for m, _ in METHODS}
        total = float(c.in_range(kpis)["gmv"].sum()) if kpis is not None else None
    if src is None:
        ui.not_available(c, data.DAC_CONTRIBUTION_WEEKLY if c.dac else data.WEEKLY_KPIS)
        return
    per_week = c.in_range(src).group_by("week_start").agg(pl.col(v).sum().alias(m) for m, v in cols.items())
    rows = []
    for col, lbl in METHODS:
        attributed = float(per_week[col].sum())
        row = {c.t("attribution_method"): c.t(lbl), c.t("dac_attributed"): round(attributed, 2)}
        if total is not None:
            row[c.t("brand_direct")] = round(total - attributed, 2)
            row[c.t("share")] = f"{attributed / total:.1%}" if total else "—"
        rows.append(row)
    st.dataframe(pl.DataFrame(rows), hide_index=True)
    long = (
        ui.week_col(per_week.sort("week_start"))
        .unpivot(index="week", on=[m for m, _ in METHODS], variable_name="method", value_name="gmv")
        .with_columns(pl.col("method").replace_strict({m: c.t(lbl) for m, lbl in METHODS}))
    )
    if long.height:
        ui.chart(
            alt.Chart(long.to_pandas())
            .mark_line(point=True)
            .encode(
                x=alt.X("week:O", title=c.t("week")),
                y=alt.Y("gmv:Q", title=c.label("gmv")),
                color=alt.Color("method:N", title=c.t("attribution_method")),
                tooltip=["week", "method", alt.Tooltip("gmv:Q", format=",.2f")],
            )
        )
