"""UI strings of the dashboard in Chinese (default) and English.

Metric names, tooltips and definitions never live here: they come from the metric registry
(``xiaoshuju.metrics``). This dict holds only the words around the numbers: page titles, buttons, hints.
"""

from __future__ import annotations

from xiaoshuju import metrics as registry

LANGS = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # app chrome
    "app_title": ("小数据 · 品牌经营看板", "xiaoshuju · brand dashboard"),
    "language": ("语言 / Language", "Language / 语言"),
    "page_overview": ("总览", "Overview"),
    "page_members": ("会员", "Members"),
    "page_groups": ("社群", "Groups"),
    "page_dac": ("大C", "大C (super-users)"),
    "page_fission": ("裂变", "Fission"),
    "page_quality": ("数据质量", "Data quality"),
    "filters": ("筛选", "Filters"),
    "week_range": ("周范围", "Week range"),
    "filter_dac": ("大C", "大C"),
    "filter_group": ("社群", "Group"),
    "all": ("全部", "All"),
    "partial_week": (
        "{week} 尚未结束：数字为截至目前的部分周数据。",
        "{week} is not over yet: partial, week-to-date figures.",
    ),
    "share_hint": (
        "筛选条件保存在网址中，复制网址即可分享当前视图。",
        "Filters live in the URL: copy it to share this view.",
    ),
    "snapshot": ("数据快照", "Snapshot"),
    "data_as_of": ("数据截至", "Data as of"),
    "built_at": ("生成于", "Built at"),
    "version": ("版本", "Version"),
    # empty / missing
    "no_snapshot_title": ("还没有可展示的数据", "No data to show yet"),
    "no_snapshot_body": (
        "还没有发布数据快照。请先运行数据管道：在项目目录执行 `xiaoshuju demo`（示例数据）或 "
        "`xiaoshuju run`（处理收件箱 inbox/ 中的导出文件），完成后刷新本页即可，无需重启看板。",
        "No serving snapshot has been published yet. Run the pipeline first: `xiaoshuju demo` (demo data) or "
        "`xiaoshuju run` (processes the exports in inbox/), then refresh this page; no restart needed.",
    ),
    "empty_snapshot": (
        "当前快照中没有数据。请先运行数据管道（`xiaoshuju run`）。",
        "The current snapshot holds no data. Run the pipeline first (`xiaoshuju run`).",
    ),
    "not_available": ("当前快照中没有此数据：{what}", "Not available in this snapshot: {what}"),
    "no_rows": ("所选筛选条件下没有数据。", "No data for the selected filters."),
    # export
    "download_csv": ("导出 CSV", "Download CSV"),
    "download_xlsx": ("导出 Excel", "Download Excel"),
    "rows_shown": (
        "显示前 {shown} 行，共 {total} 行；导出包含全部行。",
        "Showing the first {shown} of {total} rows; exports contain all rows.",
    ),
    # overview
    "overview_title": ("总览：本周经营", "Overview: this week"),
    "week_of": ("统计周：{week}（与上周相比）", "Week {week} (change vs previous week)"),
    "trend": ("趋势", "Trend"),
    "gmv_by_attribution": ("按归因方式的成交额", "GMV by attribution method"),
    "attribution_method": ("归因方式", "Attribution method"),
    "method_group": ("社群归属", "Group-based"),
    "method_first_touch": ("首次推荐", "First-touch referrer"),
    "method_last_touch": ("末次分销", "Last-touch (分销员/团长)"),
    "dac_attributed": ("归因到大C", "Attributed to a 大C"),
    "brand_direct": ("品牌直营", "Brand direct"),
    "week": ("周", "Week"),
    "share": ("占比", "Share"),
    "value": ("数值", "Value"),
    "metric": ("指标", "Metric"),
    "kpi_table": ("每周指标表", "Weekly KPI table"),
    "dac_scope_note": (
        "已选择大C：以下为该大C的贡献。",
        "A 大C is selected: figures below are this 大C's contribution.",
    ),
    # members
    "members_title": ("会员：价值、流失与生命周期", "Members: value, churn and lifecycle"),
    "segments": ("RFM 分群", "RFM segments"),
    "segment": ("分群", "Segment"),
    "members_count": ("会员数", "Members"),
    "clv_distribution": ("预测12月价值分布", "Predicted 12-month CLV distribution"),
    "churn_distribution": ("流失风险分布", "Churn-risk distribution"),
    "churn_band": ("流失风险等级", "Churn-risk band"),
    "band_low": ("低", "low"),
    "band_medium": ("中", "medium"),
    "band_high": ("高", "high"),
    "cohort_heatmap": ("首购月留存热力图", "Cohort retention by first-order month"),
    "cohort_month": ("首购月", "First-order month"),
    "months_since": ("距首购月数", "Months since first order"),
    "show_percent": ("显示百分比", "Show percentages"),
    "retention_kind": ("留存口径", "Retention definition"),
    "classic": ("经典（第k月活跃）", "Classic (active in month k)"),
    "unbounded": ("无界（第k月或之后活跃）", "Unbounded (active in month k or later)"),
    "lifecycle_flows": ("生命周期流转（每周人数）", "Lifecycle flows (members per week)"),
    "state": ("状态", "State"),
    "at_risk": ("高流失风险会员", "Members at risk"),
    "at_risk_by_dac": ("按大C汇总的高风险会员", "High-risk members by serving 大C"),
    "dac_first": (
        "不穿透：会员明细需通过服务他们的大C查看。请在左侧选择一个大C。",
        "Through the 大C: member detail is shown via the 大C who serves them. Pick a 大C on the left.",
    ),
    "value_at_risk": ("风险价值（预测12月价值）", "Value at risk (predicted 12-month CLV)"),
    "role_level": ("会员等级", "Role level"),
    "roles": ("会员等级分布（L0–L4）", "Role ladder (L0–L4)"),
    # groups
    "groups_title": ("社群：活跃度与僵尸群", "Groups: vitality and zombie groups"),
    "vitality_ranking": ("活跃度排名（{week}）", "Vitality ranking ({week})"),
    "alerts": ("预警", "Alerts"),
    "no_alerts": ("本周没有预警。", "No alerts this week."),
    "drilldown_group": ("社群详情", "Group detail"),
    "pick_group": ("选择社群查看详情", "Pick a group for detail"),
    "weekly_trend": ("每周趋势", "Weekly trend"),
    "sub_scores": ("活跃度分项得分", "Vitality sub-scores"),
    "group": ("社群", "Group"),
    "owner": ("群主（大C）", "Owner (大C)"),
    "lifecycle": ("生命周期", "Lifecycle"),
    "survival": ("社群存活（创建到变僵尸）", "Group survival (creation to zombie)"),
    # dac
    "dac_title": ("大C：贡献与裂变", "大C: contribution and fission"),
    "leaderboard": ("大C 排行（{weeks}）", "大C leaderboard ({weeks})"),
    "contribution_by_method": ("按归因方式的贡献", "Contribution by attribution method"),
    "value_matrix": ("价值矩阵：自身价值 × 推荐价值", "Value matrix: own CLV × referral value"),
    "concentration": ("集中度", "Concentration"),
    "drilldown_dac": ("大C 详情", "大C detail"),
    "pick_dac": (
        "在左侧选择一个大C查看其社群、会员和推荐树。",
        "Pick a 大C on the left to see their groups, members and referral tree.",
    ),
    "their_groups": ("TA 的社群", "Their groups"),
    "their_members": ("TA 服务的会员（已脱敏）", "Members they serve (masked)"),
    "their_tree": ("TA 的推荐树", "Their referral tree"),
    "dac": ("大C", "大C"),
    # fission
    "fission_title": ("裂变：推荐树与晋升", "Fission: referral trees and promotions"),
    "root_dac": ("根大C", "Root 大C"),
    "tree_stats": ("推荐树指标", "Referral-tree metrics"),
    "tree_view": ("推荐树（前{n}个节点）", "Referral tree (first {n} nodes)"),
    "generation": ("代", "Generation"),
    "nodes_per_generation": ("每代人数", "Members per generation"),
    "promotions": ("晋升为大C的会员", "Members promoted to 大C"),
    "all_trees": ("全部推荐树", "All referral trees"),
    "no_payout": (
        "下线按代的成交额仅供洞察，不用于任何多级分佣计算。",
        "Downline GMV by generation is for insight only; never used for multi-level payouts.",
    ),
    # data quality
    "quality_title": (
        "数据质量：文件、对账、隔离与模型可信度",
        "Data quality: files, reconciliation, quarantine, model trust",
    ),
    "manifest": ("文件清单", "File manifest"),
    "reconciliation": (
        "逐文件对账（输入 = 入库 + 隔离）",
        "Per-file reconciliation (rows in = loaded + quarantined)",
    ),
    "quarantine": ("隔离原因", "Quarantine reasons"),
    "reason_code": ("原因代码", "Reason code"),
    "rows": ("行数", "Rows"),
    "contracts": ("数据契约检查结果", "Data-contract check results"),
    "identity": ("身份匹配率（按来源）", "Identity match rate (by source)"),
    "model_trust": ("模型可信度：校准 vs 留出期", "Model trust: calibration vs holdout"),
    "referral_anomalies": (
        "推荐关系异常（自荐、循环，已切断）",
        "Referral anomalies (self-referrals, cycles; cut)",
    ),
    "generation_gmv": ("下线按代成交额（仅供洞察）", "Downline GMV by generation (insight only)"),
    "model_params": ("模型参数", "Model parameters"),
    "files": ("文件数", "Files"),
    "unreconciled": ("未对平文件数", "Unreconciled files"),
    "quarantined_rows": ("隔离行数", "Quarantined rows"),
}


# Headers of non-metric columns (ids, names, states). Metric columns take their label from the registry.
COLUMNS: dict[str, tuple[str, str]] = {
    "week_start": ("周一日期", "Week (Monday)"),
    "week": ("周", "Week"),
    "group_id": ("社群ID", "Group id"),
    "group": ("社群", "Group"),
    "root": ("根大C", "Root 大C"),
    "cohort": ("首购月", "First-order month"),
    "group_name": ("社群名称", "Group name"),
    "owner": ("群主（大C）", "Owner (大C)"),
    "owner_member_id": ("群主ID", "Owner id"),
    "cohort_active_or_later": ("当月或之后购买人数", "Bought that month or later"),
    "dac": ("大C", "大C"),
    "dac_id": ("大C ID", "大C id"),
    "member": ("会员", "Member"),
    "member_id": ("会员ID", "Member id"),
    "display_name_masked": ("昵称（脱敏）", "Name (masked)"),
    "phone_masked": ("手机（脱敏）", "Phone (masked)"),
    "serving_dac": ("服务大C", "Serving 大C"),
    "serving_dac_id": ("服务大C ID", "Serving 大C id"),
    "home_group": ("所属社群", "Home group"),
    "home_group_id": ("所属社群ID", "Home group id"),
    "rfm_segment": ("RFM 分群", "RFM segment"),
    "segment": ("分群", "Segment"),
    "lifecycle_state": ("生命周期状态", "Lifecycle state"),
    "churn_band": ("流失风险等级", "Churn-risk band"),
    "role_level": ("会员等级", "Role level"),
    "alert_type": ("预警类型", "Alert type"),
    "reason": ("原因", "Reason"),
    "reason_code": ("原因代码", "Reason code"),
    "file_name": ("文件名", "File"),
    "source_format": ("来源格式", "Source format"),
    "detected_format": ("识别格式", "Detected format"),
    "status": ("状态", "Status"),
    "problem": ("问题", "Problem"),
    "rows_in": ("输入行数", "Rows in"),
    "rows_loaded": ("入库行数", "Rows loaded"),
    "rows_quarantined": ("隔离行数", "Rows quarantined"),
    "reconciled": ("已对平", "Reconciled"),
    "members_count": ("会员数", "Members"),
    "value_at_risk": ("风险价值", "Value at risk"),
    "parent_id": ("推荐人ID", "Referrer id"),
    "root_dac_id": ("根大C ID", "Root 大C id"),
    "generation": ("代", "Generation"),
    "joined_at": ("加入时间", "Joined at"),
    "value_cell": ("价值矩阵格", "Value-matrix cell"),
}


# Labels of category values (segments, states, cells, alert types). RFM segment labels prefer the member-lifetime
# registry's RFM_SEGMENTS when that mart publishes it.
VALUES: dict[str, tuple[str, str]] = {
    "champions": ("冠军客户", "Champions"),
    "loyal": ("忠诚客户", "Loyal"),
    "potential_loyalist": ("潜力忠诚", "Potential loyalist"),
    "new": ("新客", "New"),
    "promising": ("有潜力", "Promising"),
    "need_attention": ("需关注", "Need attention"),
    "about_to_sleep": ("即将沉睡", "About to sleep"),
    "at_risk": ("流失风险", "At risk"),
    "cant_lose": ("不能失去", "Can't lose"),
    "hibernating": ("休眠", "Hibernating"),
    "lost": ("已流失", "Lost"),
    "low": ("低", "low"),
    "medium": ("中", "medium"),
    "high": ("高", "high"),
    "returning": ("回购", "returning"),
    "resurrected": ("复活", "resurrected"),
    "active": ("活跃", "active"),
    "dormant": ("沉睡", "dormant"),
    "churned": ("流失", "churned"),
    "prospect": ("未购买", "prospect"),
    "declining": ("衰退", "declining"),
    "zombie": ("僵尸群", "zombie"),
    "Champions": ("冠军（自购高·推荐高）", "Champions"),
    "Affluents": ("富裕（自购高·推荐低）", "Affluents"),
    "Advocates": ("推广者（自购低·推荐高）", "Advocates"),
    "Misers": ("低价值（双低）", "Misers"),
    "silent_top_dac": ("头部大C沉默", "Top 大C gone silent"),
    "new_dac": ("新晋大C", "New 大C"),
    "group": ("社群归属", "Group-based"),
    "first_touch": ("首次推荐", "First touch"),
    "last_touch": ("末次分销", "Last touch"),
    "average": ("三种平均", "Average of three"),
}


GROUP_STATES: dict[str, tuple[str, str]] = {"new": ("新建", "new")}

# marts.member_lifetime.l4_rule: the condition(s) that made a member 大C, joined by "+" on a tie
L4_RULES: dict[str, tuple[str, str]] = {
    "group": ("拥有≥20人社群", "owns a group of ≥ 20"),
    "referees": ("90天内≥3位被推荐人购买", "≥ 3 referees bought in 90 days"),
    "attributed_gmv": ("分销成交额≥自购", "attributed GMV ≥ own GMV"),
}


def l4_rule_label(value: str | None, lang: str = "zh") -> str | None:
    if value is None:
        return None
    parts = [L4_RULES.get(p, (p, p))[0 if lang == "zh" else 1] for p in value.split("+")]
    return " + ".join(parts)


def value_label(value, lang: str = "zh", kind: str = "") -> str:
    if value is None:
        return "—"
    if kind == "group_state" and value in GROUP_STATES:
        zh, en = GROUP_STATES[value]
        return zh if lang == "zh" else en
    try:
        from xiaoshuju.metrics import member_lifetime as ml

        seg = getattr(ml, "RFM_SEGMENTS", {}).get(value)
        if isinstance(seg, dict):
            return seg.get(lang) or seg.get("en") or str(value)
        if isinstance(seg, (tuple, list)) and len(seg) >= 2:
            return seg[0] if lang == "zh" else seg[1]
    except Exception:  # noqa: BLE001 — a label must never break a page
        pass
    if value in VALUES:
        zh, en = VALUES[value]
        return zh if lang == "zh" else en
    return str(value)


def column_label(col: str, lang: str = "zh") -> str:
    """Header for a table column: the metric registry first, then the words above, else the name itself."""
    label = metric_label(col, lang)
    if label != col:
        return label
    if col in COLUMNS:
        zh, en = COLUMNS[col]
        return zh if lang == "zh" else en
    return col


def t(key: str, lang: str = "zh", **fmt) -> str:
    zh, en = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def metric_label(key: str, lang: str = "zh") -> str:
    """Label of a metric from the registry; the column name when a mart has not registered it (yet)."""
    try:
        return registry.get(key).label(lang)
    except (KeyError, ValueError, ImportError):  # not registered (yet), or a mart's registry module is broken
        return key


def metric_help(key: str, lang: str = "zh") -> str | None:
    try:
        m = registry.get(key)
    except (KeyError, ValueError, ImportError):
        return None
    unit = f" （{m.unit}）" if lang == "zh" else f" ({m.unit})"
    return m.help(lang) + unit


def metric_format(key: str, value) -> str:
    try:
        return registry.get(key).format(value)
    except (KeyError, ValueError, ImportError, TypeError):
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return f"{value:,}" if isinstance(value, int) else str(value)
