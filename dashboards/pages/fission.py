"""裂变 Fission: referral tree of a root 大C (depth, breadth, K-factor, cycle time), promotions 小c → 大C."""

from datetime import timedelta

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, ui

STATS = (
    "tree_size",
    "tree_depth",
    "max_breadth",
    "structural_virality",
    "k_factor",
    "cycle_time_days",
    "promoted_dacs",
    "downline_gmv",
)
TREE_NODES = 60


def main() -> None:
    c = ui.page_start("fission_title")
    stats = ui.require(c, data.REFERRAL_TREE_STATS)
    tree = data.table(c.key, data.REFERRAL_TREE)
    labels = data.dac_labels(c.key)
    root = None
    if stats is not None and stats.height:
        roots = stats.sort(["tree_size", "root_dac_id"], descending=[True, False])["root_dac_id"].to_list()
        if c.dac and c.dac in roots:
            root = c.dac
        else:
            root = st.selectbox(
                c.t("root_dac"), roots, key="fis_root", format_func=lambda r: labels.get(r, data.short_id(r))
            )
        _stats(c, stats.filter(pl.col("root_dac_id") == root), labels.get(root, root))
    if root is not None and tree is not None:
        _tree(c, tree.filter(pl.col("root_dac_id") == root))
    if root is not None:
        _generation_gmv(c, root)
    _promotions(c)
    _kfactor(c)
    if stats is not None:
        st.header(c.t("all_trees"))
        board = stats.with_columns(
            pl.col("root_dac_id").replace_strict(labels, default=pl.col("root_dac_id")).alias("dac")
        )
        ui.show_table(
            c, board.sort("tree_size", descending=True).select("dac", *STATS), "referral_tree_stats"
        )
    st.caption(c.t("no_payout"))


def _stats(c: ui.Ctx, one: pl.DataFrame, title: str) -> None:
    st.subheader(f"{c.t('tree_stats')} · {title}")
    cols = st.columns(4)
    for i, k in enumerate(STATS):
        ui.metric_card(c, cols[i % 4], k, one[k][0] if one.height else None)


def _tree(c: ui.Ctx, tree: pl.DataFrame) -> None:
    gen = tree.group_by("generation").agg(pl.len().alias("members_count")).sort("generation")
    st.subheader(c.t("nodes_per_generation"))
    ui.chart(
        alt.Chart(gen.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("generation:O", title=c.t("generation")),
            y=alt.Y("members_count:Q", title=c.t("members_count")),
            tooltip=["generation", "members_count"],
        ),
        height=200,
    )
    tree = tree.sort("generation", "member_id")
    st.subheader(c.t("tree_view", n=min(TREE_NODES, tree.height)))
    nodes = tree.head(TREE_NODES)
    names = data.masked_names(c.key, nodes["member_id"].to_list())
    keep = set(nodes["member_id"].to_list())
    lines = [
        "digraph T {",
        'rankdir=LR; node [shape=box, style="rounded,filled", fillcolor="#eef4fb", '
        'fontname="Noto Sans CJK SC"];',
    ]
    for mid, parent, dac in zip(
        nodes["member_id"].to_list(), nodes["parent_id"].to_list(), nodes["is_dac"].to_list(), strict=True
    ):
        label = f"{names.get(mid) or ''} {data.short_id(mid)}".strip()
        fill = ', fillcolor="#ffd8a8"' if dac else ""
        lines.append(f'"{mid}" [label="{label}"{fill}];')
        if parent and parent in keep:
            lines.append(f'"{parent}" -> "{mid}";')
    lines.append("}")
    st.graphviz_chart("\n".join(lines))
    ui.show_table(
        c,
        tree.select("member_id", "parent_id", "generation", "join_date", "joined_at", "is_dac"),
        "referral_tree",
    )


def _generation_gmv(c: ui.Ctx, root: str) -> None:
    gg = data.table(c.key, data.REFERRAL_GENERATION_GMV)
    if gg is None:
        return
    one = gg.filter(pl.col("root_dac_id") == root).sort("generation")
    if one.height == 0:
        return
    st.subheader(c.t("generation_gmv"), help=c.help("downline_gmv"))
    ui.chart(
        alt.Chart(one.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("generation:O", title=c.t("generation")),
            y=alt.Y("downline_gmv:Q", title=c.label("downline_gmv")),
            tooltip=["generation", "members", "buyers", "downline_gmv"],
        ),
        height=200,
    )


def _promotions(c: ui.Ctx) -> None:
    st.header(c.t("promotions"))
    dcw = data.table(c.key, data.DAC_CONTRIBUTION_WEEKLY)
    if dcw is not None:
        scoped = dcw.filter(pl.col("dac_id") == c.dac) if c.dac else dcw
        per_week = ui.week_col(
            c.in_range(scoped).group_by("week_start").agg(pl.col("promotions").sum()).sort("week_start")
        )
        if per_week.height:
            ui.chart(
                alt.Chart(per_week.to_pandas())
                .mark_bar()
                .encode(
                    x=alt.X("week:O", title=c.t("week")),
                    y=alt.Y("promotions:Q", title=c.label("promotions")),
                    tooltip=["week", "promotions"],
                ),
                height=200,
            )
    dacs = data.table(c.key, data.DACS)
    tree = data.table(c.key, data.REFERRAL_TREE)
    if dacs is None or tree is None:
        ui.not_available(c, data.DACS if dacs is None else data.REFERRAL_TREE)
        return
    promoted = tree.filter(pl.col("generation") > 0).join(dacs, left_on="member_id", right_on="dac_id")
    if c.dac:
        promoted = promoted.filter(pl.col("root_dac_id") == c.dac)
    if c.w_from is not None:
        promoted = promoted.filter(pl.col("dac_since").is_between(c.w_from, c.w_to + timedelta(days=6)))
    labels = data.dac_labels(c.key)
    promoted = promoted.with_columns(
        pl.col("member_id").replace_strict(labels, default=pl.col("member_id")).alias("dac"),
        pl.col("root_dac_id").replace_strict(labels, default=pl.col("root_dac_id")).alias("root"),
    )
    ui.show_table(
        c,
        promoted.sort("dac_since", descending=True).select(
            "dac", "root", "generation", "dac_since", "is_l4", "is_group_owner", "groups_owned"
        ),
        "promotions",
    )


def _kfactor(c: ui.Ctx) -> None:
    kc = data.table(c.key, data.REFERRAL_KFACTOR_COHORT)
    if kc is None:
        return
    st.subheader(c.label("k_factor"), help=c.help("k_factor"))
    kc = kc.with_columns(pl.col("cohort_month").cast(pl.String).str.slice(0, 7).alias("cohort"))
    ui.chart(
        alt.Chart(kc.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("cohort:O", title=c.t("cohort_month")),
            y=alt.Y("k_factor:Q", title=c.label("k_factor")),
            tooltip=["cohort", "k_factor", "cohort_members", "referees_28d"],
        ),
        height=200,
    )
