"""Words of the weekly PDF in Chinese (default) and English. Metric names come from the metric registry."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    "title": ("经营周报", "Weekly executive report"),
    "week": ("周次", "Week"),
    "period": ("统计周期", "Period"),
    "data_as_of": ("数据截至", "Data as of"),
    "snapshot": ("数据版本", "Snapshot"),
    "generated": ("生成时间", "Generated"),
    "page": ("第 {n} 页", "Page {n}"),
    "headline": ("核心指标", "Headline KPIs"),
    "metric": ("指标", "Metric"),
    "this_week": ("本周", "This week"),
    "wow": ("周环比", "WoW"),
    "trend_4w": ("近4周", "Last 4 weeks"),
    "avg_4w": ("4周均值", "4-week avg"),
    "gmv_trend": ("近8周成交额与购买人数", "GMV and buyers, last 8 weeks"),
    "attribution": ("成交额归因（三种方法并列）", "GMV by attribution method (all three kept)"),
    "method": ("归因方法", "Method"),
    "method_group": ("社群归因（买家所在群的群主）", "Group (owner of buyer's group)"),
    "method_first_touch": ("首次推荐人归因", "First-touch referrer"),
    "method_last_touch": ("末次触达归因（分销员/团长）", "Last touch (distributor / leader)"),
    "to_dac": ("归因到大C", "Credited to 大C"),
    "brand_direct": ("品牌直营", "Brand direct"),
    "share": ("大C占比", "大C share"),
    "top_dacs": ("本周贡献最高的大C", "Top 大C this week"),
    "movers": ("变化最大的大C", "Biggest movers"),
    "rank": ("排名", "Rank"),
    "dac": ("大C", "大C"),
    "attributed_avg": ("归因成交额（三法均值）", "Attributed GMV (avg of methods)"),
    "own_gmv": ("自购", "Own GMV"),
    "members_served": ("服务会员", "Members served"),
    "change": ("较上周", "vs last week"),
    "groups": ("需要关注的社群", "Groups needing attention"),
    "group": ("社群", "Group"),
    "alert": ("状态", "Status"),
    "reason": ("原因", "Reason"),
    "alert_zombie": ("新僵尸群", "Newly zombie"),
    "alert_declining": ("活力下滑", "Declining"),
    "no_group_alerts": (
        "本周没有新变为僵尸或活力下滑的社群。",
        "No group turned zombie or declining this week.",
    ),
    "more_rows": ("另有 {n} 条未列出（见看板）。", "{n} more not listed (see the dashboard)."),
    "at_risk": ("流失风险会员（不含个人信息）", "Members at risk of churn (no individual identities)"),
    "band": ("流失风险", "Churn risk"),
    "band_high": ("高（>66%）", "High (>66%)"),
    "band_medium": ("中（33–66%）", "Medium (33–66%)"),
    "band_low": ("低（<33%）", "Low (<33%)"),
    "members": ("会员数", "Members"),
    "historic_value": ("历史消费", "Historic value"),
    "predicted_value": ("预测12月价值", "Predicted 12-month value"),
    "at_risk_note": (
        "按会员生命周期模型（截至 {as_of}）统计购买过的会员；高风险 = 未来90天不再购买的概率超过66%。",
        "Buyers scored by the member lifetime model (as of {as_of}); high = over 66% chance of no order in 90 days.",
    ),
    "model_fallback": (
        "注意：模型样本不足，使用经验比率，预测值仅供参考。",
        "Note: too little data for the model; empirical rates used, predictions are indicative.",
    ),
    "data_quality": ("数据质量", "Data quality"),
    "dq_line": (
        "文件 {files} 个（已登记 {registered}），行数 {rows}，已加载 {loaded}，隔离 {quarantined}（{qshare}）；"
        "对账 {reconciled}/{recon_total} 通过；检查 {checks_ok} 通过、{checks_failed} 失败。",
        "{files} files ({registered} registered), {rows} rows, {loaded} loaded, {quarantined} quarantined ({qshare}); "
        "{reconciled}/{recon_total} files reconciled; checks {checks_ok} passed, {checks_failed} failed.",
    ),
    "not_available": ("暂无数据（{what} 尚未生成）。", "Not available ({what} has not been built yet)."),
    "no_week_row": ("该周尚无汇总数据。", "No KPI row for this week yet."),
    "footnotes": ("指标口径", "Metric definitions"),
    "wow_note": (
        "周环比 = （本周 − 上周）÷ 上周；上周为 0 时不计算。",
        "WoW = (this week − last week) ÷ last week; blank when last week was 0.",
    ),
    "privacy_note": (
        "本报告仅含脱敏姓名与汇总数据，不含手机号等个人信息。",
        "This report holds masked names and aggregates only, no phone numbers or other identities.",
    ),
    "up": ("上升", "Up"),
    "down": ("下降", "Down"),
    "blocked_subject": (
        "[{brand}] {week} 周报暂停发送：数据检查未通过",
        "[{brand}] {week} report withheld: data checks failed",
    ),
    "blocked_body": (
        "{week}（{start} 至 {end}）的周报未生成，因为以下阻断性数据检查未通过：\n\n{checks}\n\n"
        "数据团队修复后会重新生成并发送。Dagit：{link}",
        "The report for {week} ({start} to {end}) was not produced because these blocking data checks failed:\n\n"
        "{checks}\n\nIt will be rendered and sent once the data team has fixed them. Dagit: {link}",
    ),
    "mail_subject": ("[{brand}] {week} 经营周报", "[{brand}] Weekly report {week}"),
    "mail_body": (
        "您好，\n\n附件是 {brand} {week}（{start} 至 {end}）的经营周报。\n本周成交额 {gmv}（周环比 {gmv_wow}），"
        "购买人数 {buyers}。\n\n—— 小数据 xiaoshuju",
        "Hello,\n\nAttached is the weekly report of {brand} for {week} ({start} to {end}).\nGMV {gmv} "
        "(WoW {gmv_wow}), buyers {buyers}.\n\n— xiaoshuju",
    ),
}


def t(key: str, lang: str = "zh", **kw) -> str:
    zh, en = TEXT[key]
    s = zh if lang == "zh" else en
    return s.format(**kw) if kw else s
