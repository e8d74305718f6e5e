"""大C: leaderboard, contribution by attribution method, CLV × referral-value matrix, concentration, alerts, and one
大C's groups, members (masked) and referral tree."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, ui
from dashboards.i18n import value_label

SUMS = (
    "gmv_attributed_avg",
    "own_gmv",
    "gmv_group",
    "gmv_first_touch",
    "gmv_last_touch",
    "attributed_orders",
    "new_referrals",
    "referee_first_orders",
    "promotions",
    "referral_value",
    "messages_sent",
)
LASTS = (
    "groups_owned",
    "members_served",
    "active_members",
    "member_retention",
    "retention_vs_brand",
    "own_gmv_to_date",
    "referral_value_to_date",
    "historic_clv",
    "predicted_clv_12m",
    "clv_referral_cell",
)
METHODS = ("gmv_group", "gmv_first_touch", "gmv_last_touch")


@st.cache_data(max_entries=64, show_spinner=False)
def leaderboard(key: data.SnapKey, w_from, w_to) -> pl.DataFrame | None:
    """Per 大C over the week range: sums of flows, end-of-range stocks; ranked by mean attributed GMV."""
    dcw = data.table(key, data.DAC_CONTRIBUTION_WEEKLY)
    if dcw is None:
        return None
    rng = dcw.filter(pl.col("week_start").is_between(w_from, w_to)) if w_from else dcw
    board = (
        rng.sort("week_start")
        .group_by("dac_id")
        .agg(*[pl.col(k).sum() for k in SUMS], *[pl.col(k).last() for k in LASTS])
    )
    board = board.sort(["gmv_attributed_avg", "dac_id"], descending=[True, False]).with_row_index(
        "rank", offset=1
    )
    labels = data.dac_labels(key)
    return board.with_columns(pl.col("dac_id").replace_strict(labels, default=pl.col("dac_id")).alias("dac"))


def main() -> None:
    c = ui.page_start("dac_title")
    board = leaderboard(c.key, c.w_from, c.w_to)
    if board is None:
        ui.not_available(c, data.DAC_CONTRIBUTION_WEEKLY)
    else:
        _leaderboard(c, board)
        _methods(c, board)
        _matrix(c, board)
    _concentration(c)
    _alerts(c)
    _drilldown(c)


def _leaderboard(c: ui.Ctx, board: pl.DataFrame) -> None:
    st.header(c.t("leaderboard", weeks=c.weeks_text))
    shown = board.filter(pl.col("dac_id") == c.dac) if c.dac else board
    shown = shown.with_columns(
        pl.col("clv_referral_cell").map_elements(lambda v: value_label(v, c.lang), return_dtype=pl.String)
    )
    ui.show_table(c, shown.select("rank", "dac", *SUMS, *LASTS), "dac_leaderboard")


def _methods(c: ui.Ctx, board: pl.DataFrame) -> None:
    methods = list(METHODS)
    st.subheader(c.t("contribution_by_method"))
    top = board.head(20) if not c.dac else board.filter(pl.col("dac_id") == c.dac)
    long = top.unpivot(index="dac", on=methods, variable_name="method", value_name="gmv").with_columns(
        pl.col("method").replace_strict({m: c.label(m) for m in methods})
    )
    ui.chart(
        alt.Chart(long.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("gmv:Q", title=c.label("gmv")),
            y=alt.Y("dac:N", sort=top["dac"].to_list(), title=c.t("dac")),
            color=alt.Color("method:N", title=c.t("attribution_method")),
            yOffset="method:N",
            tooltip=["dac", "method", alt.Tooltip("gmv:Q", format=",.2f")],
        ),
        height=max(160, 30 * top.height),
    )


def _matrix(c: ui.Ctx, board: pl.DataFrame) -> None:
    x, y = "own_gmv_to_date", "referral_value_to_date"
    st.subheader(c.t("value_matrix"), help=c.help("clv_referral_cell"))
    pts = board.select("dac", x, y, "clv_referral_cell").with_columns(
        pl.col("clv_referral_cell").map_elements(lambda v: value_label(v, c.lang), return_dtype=pl.String)
    )
    a, b = st.columns([2, 1])
    with a:
        ui.chart(
            alt.Chart(pts.to_pandas())
            .mark_circle(size=60)
            .encode(
                x=alt.X(f"{x}:Q", title=c.label(x)),
                y=alt.Y(f"{y}:Q", title=c.label(y)),
                color=alt.Color("clv_referral_cell:N", title=c.label("clv_referral_cell")),
                tooltip=[
                    "dac",
                    "clv_referral_cell",
                    alt.Tooltip(f"{x}:Q", format=",.0f"),
                    alt.Tooltip(f"{y}:Q", format=",.0f"),
                ],
            )
        )
    with b:
        counts = (
            pts.group_by("clv_referral_cell").agg(pl.len().alias("members_count")).sort("clv_referral_cell")
        )
        st.dataframe(
            counts,
            hide_index=True,
            column_config={"clv_referral_cell": c.label("clv_referral_cell"), "members_count": c.t("dac")},
        )


def _concentration(c: ui.Ctx) -> None:
    st.header(c.t("concentration"))
    conc = data.table(c.key, data.DAC_CONCENTRATION_WEEKLY)
    if conc is None:
        ui.not_available(c, data.DAC_CONCENTRATION_WEEKLY)
        return
    methods = conc["method"].unique().sort().to_list()
    m = st.selectbox(
        c.t("attribution_method"),
        methods,
        index=methods.index("average") if "average" in methods else 0,
        key="conc_method",
        format_func=lambda v: value_label(v, c.lang),
    )
    conc = conc.filter(pl.col("method") == m)
    rng = ui.week_col(c.in_range(conc).sort("week_start"))
    keys = ["gini", "dacs_for_half_gmv", "top20_share"]
    last = rng.filter(pl.col("week_start") == c.w_to)
    cols = st.columns(len(keys))
    for i, k in enumerate(keys):
        ui.metric_card(c, cols[i], k, last[k][0] if last.height else None)
    if rng.height:
        long = rng.unpivot(
            index="week",
            on=["gini", "top20_share"],
            variable_name="metric",
            value_name="value",
        ).with_columns(
            pl.col("metric").replace_strict({k: c.label(k) for k in keys}, default=pl.col("metric"))
        )
        ui.chart(
            alt.Chart(long.to_pandas())
            .mark_line(point=True)
            .encode(
                x=alt.X("week:O", title=c.t("week")),
                y=alt.Y("value:Q", title=c.t("value")),
                color=alt.Color("metric:N", title=c.t("metric")),
                tooltip=["week", "metric", "value"],
            ),
            height=220,
        )


def _alerts(c: ui.Ctx) -> None:
    st.header(c.t("alerts"))
    al = data.table(c.key, data.DAC_ALERTS)
    if al is None:
        ui.not_available(c, data.DAC_ALERTS)
        return
    al = c.in_range(al)
    if c.dac:
        al = al.filter(pl.col("dac_id") == c.dac)
    if al.height == 0:
        st.success(c.t("no_alerts"))
        return
    reason = "reason_zh" if c.lang == "zh" else "reason_en"
    al = ui.week_col(al.sort("week_start", descending=True)).with_columns(
        pl.col("dac_id").replace_strict(data.dac_labels(c.key), default=pl.col("dac_id")).alias("dac"),
        pl.col("alert_type").map_elements(lambda v: value_label(v, c.lang), return_dtype=pl.String),
        pl.col(reason).alias("reason"),
    )
    ui.show_table(
        c, al.select("week", "dac", "alert_type", "reason", "silent_days", "activity_8w"), "dac_alerts"
    )


def _drilldown(c: ui.Ctx) -> None:
    st.header(c.t("drilldown_dac"))
    if not c.dac:
        st.info(c.t("pick_dac"))
        return
    st.subheader(data.dac_labels(c.key).get(c.dac, c.dac))
    st.markdown(f"**{c.t('their_groups')}**")
    gv = data.table(c.key, data.GROUP_VITALITY_WEEKLY)
    names = data.group_labels(c.key)
    if gv is not None:
        mine = gv.filter(
            (pl.col("owner_member_id") == c.dac) & (pl.col("week_start") == c.w_to)
        ).with_columns(pl.col("group_id").replace_strict(names, default=pl.col("group_id")).alias("group"))
        cols = ("group", "vitality_score", "lifecycle_state", "members_end", "speakers", "buyers", "gmv")
        ui.show_table(c, mine.select(cols), "dac_groups")
    st.markdown(f"**{c.t('their_members')}**")
    ml = data.table(c.key, data.MEMBER_LIFETIME)
    if ml is not None:
        mine = ml.filter(pl.col("serving_dac_id") == c.dac).with_columns(
            pl.col("home_group_id").replace_strict(names, default=None).alias("home_group")
        )
        cols = (
            "member_id",
            "display_name_masked",
            "home_group",
            "rfm_segment",
            "role_level",
            "l4_rule",
            "orders",
            "historic_clv",
            "predicted_clv_12m",
            "churn_risk",
            "churn_band",
            "last_order_at",
        )
        ui.show_table(
            c, mine.sort("historic_clv", descending=True, nulls_last=True).select(cols), "dac_members"
        )
    st.markdown(f"**{c.t('their_tree')}**")
    stats = data.table(c.key, data.REFERRAL_TREE_STATS)
    if stats is not None:
        ui.show_table(c, stats.filter(pl.col("root_dac_id") == c.dac), "dac_tree_stats", export=False)
    st.markdown(f"[{c.t('page_fission')} →](?{ui.share_query(page='fission')})")
