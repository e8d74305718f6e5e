"""Weekly KPIs shown on the overview page and at the top of the weekly PDF (DESIGN.md §4)."""

from xiaoshuju.metrics import Metric, register

M = "weekly_kpis"
register(
    Metric("gmv", "成交额 GMV", "GMV", "本周已付款订单实付金额之和减去退款（元）",
           "Sum of paid amounts of orders paid this week, minus refunds (yuan)", "yuan", "¥{:,.0f}", M),
    Metric("orders", "订单数", "Orders", "本周已付款订单数", "Number of orders paid this week", "count", "{:,.0f}", M),
    Metric("buyers", "购买人数", "Buyers", "本周至少有一笔已付款订单的会员数",
           "Members with at least one paid order this week", "count", "{:,.0f}", M),
    Metric("new_members", "新会员", "New members", "本周首次出现（入群、下单或成为客户）的会员数",
           "Members first seen this week (joined a group, ordered or became a customer)", "count", "{:,.0f}", M),
    Metric("active_groups", "活跃社群", "Active groups", "本周生命周期状态为新建或活跃的社群数",
           "Groups whose lifecycle state this week is new or active", "count", "{:,.0f}", M),
    Metric("zombie_groups", "僵尸群", "Zombie groups", "截至本周末处于僵尸状态的社群数",
           "Groups in zombie state at week end", "count", "{:,.0f}", M),
    Metric("active_dacs", "活跃大C", "Active 大C", "本周有发言或有归因订单的大C数",
           "大C with a message or an attributed order this week", "count", "{:,.0f}", M),
    Metric("new_dacs", "新晋大C", "New 大C", "本周首次达到 L4（大C）的会员数",
           "Members who first reached level L4 (大C) this week", "count", "{:,.0f}", M),
    Metric("predicted_clv_12m_base", "会员池预测12月价值", "Predicted 12-month CLV of the base",
           "全部购买会员预测未来12个月价值之和（BG/NBD × Gamma-Gamma，月折现1%）",
           "Sum over all buyers of predicted 12-month CLV (BG/NBD × Gamma-Gamma, 1% monthly discount)",
           "yuan", "¥{:,.0f}", M),
)
