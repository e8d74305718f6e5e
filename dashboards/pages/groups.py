"""社群 Groups: vitality ranking with sub-scores, zombie and declining alerts, one group's weekly detail."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, ui
from dashboards.i18n import value_label

SUB_SCORES = ("score_speak_rate", "score_activity", "score_conversion", "score_response", "score_growth")
RANKING = (
    "group",
    "owner",
    "vitality_score",
    *SUB_SCORES,
    "lifecycle_state",
    "members_end",
    "speakers",
    "speak_rate",
    "messages",
    "median_first_response_minutes",
    "buyers",
    "gmv",
    "zombie_since",
)
DETAIL = (
    "week",
    "vitality_score",
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
    "lifecycle_state",
)


@st.cache_data(max_entries=64, show_spinner=False)
def scoped(key: data.SnapKey, dac: str | None, group: str | None) -> pl.DataFrame | None:
    gv = data.table(key, data.GROUP_VITALITY_WEEKLY)
    if gv is None:
        return None
    if dac:
        gv = gv.filter(pl.col("owner_member_id") == dac)
    if group:
        gv = gv.filter(pl.col("group_id") == group)
    names, dacs = data.group_labels(key), data.dac_labels(key)
    return gv.with_columns(
        pl.col("group_id").replace_strict(names, default=pl.col("group_id")).alias("group"),
        pl.col("owner_member_id").replace_strict(dacs, default=None).alias("owner"),
    )


def main() -> None:
    c = ui.page_start("groups_title")
    gv = scoped(c.key, c.dac, c.group)
    if gv is None:
        ui.not_available(c, data.GROUP_VITALITY_WEEKLY)
    else:
        _ranking(c, gv)
    _alerts(c)
    if gv is not None:
        _drilldown(c, gv)
    _survival(c)


def _ranking(c: ui.Ctx, gv: pl.DataFrame) -> None:
    week = gv.filter(pl.col("week_start") == c.w_to)
    st.header(c.t("vitality_ranking", week=data.week_label(c.w_to)))
    if week.height:
        counts = dict(week.group_by("lifecycle_state").len().iter_rows())
        cols = st.columns(5)
        for i, s in enumerate(("new", "active", "declining", "dormant", "zombie")):
            cols[i].metric(
                value_label(s, c.lang, "group_state"), f"{counts.get(s, 0):,}", help=c.help("lifecycle_state")
            )
    ranked = week.sort("vitality_score", descending=True, nulls_last=True).with_columns(
        pl.col("lifecycle_state").map_elements(
            lambda v: value_label(v, c.lang, "group_state"), return_dtype=pl.String
        )
    )
    subs = list(SUB_SCORES)
    if ranked.height:
        # one row per group, one cell per sub-score (0–100): shows which component drags a group down
        top = ranked.head(25).unpivot(index="group", on=subs, variable_name="sub", value_name="score")
        top = top.with_columns(pl.col("sub").replace_strict({s: c.label(s) for s in subs}))
        st.subheader(c.t("sub_scores"), help=c.help("vitality_score"))
        base = alt.Chart(top.to_pandas()).encode(
            x=alt.X("sub:N", title=None, sort=[c.label(s) for s in subs], axis=alt.Axis(labelAngle=0)),
            y=alt.Y("group:N", sort=ranked.head(25)["group"].to_list(), title=c.t("group")),
        )
        heat = base.mark_rect().encode(
            color=alt.Color(
                "score:Q",
                title=c.label("vitality_score"),
                scale=alt.Scale(domain=[0, 100], scheme="redyellowgreen"),
            ),
            tooltip=["group", "sub", alt.Tooltip("score:Q", format=".1f")],
        )
        ui.chart(
            heat
            + base.transform_filter("isValid(datum.score)")
            .mark_text(fontSize=11)
            .encode(text=alt.Text("score:Q", format=".0f")),
            height=max(120, 24 * min(25, ranked.height)),
        )
    ui.show_table(c, ranked.select(RANKING), "group_vitality_ranking")


def _alerts(c: ui.Ctx) -> None:
    st.header(c.t("alerts"))
    al = data.table(c.key, data.GROUP_ALERTS)
    if al is None:
        ui.not_available(c, data.GROUP_ALERTS)
        return
    al = c.in_range(al)
    if c.dac:
        al = al.filter(pl.col("owner_member_id") == c.dac)
    if c.group:
        al = al.filter(pl.col("group_id") == c.group)
    if al.height == 0:
        st.success(c.t("no_alerts"))
        return
    names = data.group_labels(c.key)
    reason = "reason_zh" if c.lang == "zh" else "reason_en"
    al = ui.week_col(al.sort("week_start", descending=True)).with_columns(
        pl.col("group_id").replace_strict(names, default=pl.col("group_id")).alias("group"),
        pl.col("alert_type").map_elements(lambda v: value_label(v, c.lang), return_dtype=pl.String),
        pl.col(reason).alias("reason"),
    )
    cols = (
        "week",
        "group",
        "alert_type",
        "reason",
        "vitality_score",
        "silence_days",
        "zombie_since",
        "members_end",
    )
    ui.show_table(c, al.select(cols), "group_alerts")


def _drilldown(c: ui.Ctx, gv: pl.DataFrame) -> None:
    st.header(c.t("drilldown_group"))
    names = data.group_labels(c.key)
    ids = sorted(gv["group_id"].unique().to_list(), key=lambda g: names.get(g, g))
    if not ids:
        st.caption(c.t("no_rows"))
        return
    gid = c.group or st.selectbox(
        c.t("pick_group"), ids, format_func=lambda g: names.get(g, g), key="grp_pick"
    )
    one = ui.week_col(c.in_range(gv.filter(pl.col("group_id") == gid)).sort("week_start"))
    st.subheader(names.get(gid, gid))
    lines = ["vitality_score", "speakers", "messages", "buyers"]
    if one.height:
        long = one.unpivot(index="week", on=lines, variable_name="metric", value_name="value").with_columns(
            pl.col("metric").replace_strict({k: c.label(k) for k in lines})
        )
        ui.chart(
            alt.Chart(long.to_pandas())
            .mark_line(point=True)
            .encode(
                x=alt.X("week:O", title=c.t("week")),
                y=alt.Y("value:Q", title=c.t("value")),
                color=alt.Color("metric:N", title=c.t("metric")),
                tooltip=["week", "metric", alt.Tooltip("value:Q", format=",.2f")],
            )
            .properties(title=c.t("weekly_trend")),
            height=240,
        )
    ui.show_table(
        c,
        one.sort("week_start", descending=True).select(DETAIL),
        "group_weekly_detail",
    )


def _survival(c: ui.Ctx) -> None:
    sv = data.table(c.key, data.GROUP_SURVIVAL)
    if sv is None:
        return
    st.header(c.t("survival"), help=c.help("survival"))
    ui.chart(
        alt.Chart(sv.select("cohort", "t_days", "survival").to_pandas())
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("t_days:Q", title="t (days)"),
            y=alt.Y("survival:Q", title=c.label("survival"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("cohort:N"),
            tooltip=["cohort", "t_days", "survival"],
        ),
        height=240,
    )
