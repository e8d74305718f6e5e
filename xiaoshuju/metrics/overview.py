"""Weekly KPIs shown on the overview page and at the top of the weekly PDF (DESIGN.md §4).

Columns of ``marts.weekly_kpis`` are named after these keys; each KPI also has a ``<key>_wow`` week-over-week
column, and GMV is split by attribution method (``gmv_attr_<method>``).
"""

from xiaoshuju.metrics import Metric, register

M = "weekly_kpis"
KPI_KEYS = [
    "gmv", "orders", "buyers", "new_members", "active_groups", "zombie_groups", "active_dacs", "new_dacs",
    "predicted_clv_12m_base",
]

register(
    Metric("gmv", "成交额 GMV", "GMV", "本周已付款订单实付金额之和减去退款（元）",
           "Sum of paid amounts of orders paid this week, minus refunds (yuan)", "yuan", "¥{:,.0f}", M),
    Metric("orders", "订单数", "Orders", "本周已付款订单数", "Number of orders paid this week", "count", "{:,.0f}", M),
    Metric("buyers", "购买人数", "Buyers", "本周至少有一笔已付款订单的会员数",
           "Members with at least one paid order this week", "count", "{:,.0f}", M),
    Metric("new_members", "新会员", "New members", "本周首次出现（入群、下单或成为客户）的会员数（不含品牌员工）",
           "Members first seen this week (joined a group, ordered or became a customer); brand staff excluded",
           "count", "{:,.0f}", M),
    Metric("active_groups", "活跃社群", "Active groups", "本周生命周期状态为新建或活跃的社群数",
           "Groups whose lifecycle state this week is new or active", "count", "{:,.0f}", M),
    Metric("zombie_groups", "僵尸群", "Zombie groups", "截至本周末处于僵尸状态的社群数",
           "Groups in zombie state at week end", "count", "{:,.0f}", M),
    Metric("active_dacs", "活跃大C", "Active 大C", "本周已是大C、且有发言或有归因订单（任一归因方法）的人数",
           "People who are 大C by this week and sent a message or had an order attributed to them (any method)",
           "count", "{:,.0f}", M),
    Metric("new_dacs", "新晋大C", "New 大C", "本周首次成为大C（达到 L4 或开始拥有社群）的人数",
           "People who became 大C this week (first reached L4 or started owning a group)", "count", "{:,.0f}", M),
    Metric("predicted_clv_12m_base", "会员池预测12月价值", "Predicted 12-month CLV of the base",
           "全部购买会员预测未来12个月价值之和（BG/NBD × Gamma-Gamma，月折现1%）；只在模型截止日所在周计算，之后保留",
           "Sum over all buyers of predicted 12-month CLV (BG/NBD × Gamma-Gamma, 1% monthly discount); computed for "
           "the week holding the model's as-of date and kept afterwards",
           "yuan", "¥{:,.0f}", M),
)

_ATTR = {
    "group": ("社群归因", "group-based", "买家下单时所在社群的群主", "the owner of the buyer's group at order time"),
    "first_touch": ("首次推荐人归因", "first-touch", "买家首次推荐关系中的推荐人", "the referrer of the buyer's first referral"),
    "last_touch": ("末次触达归因", "last-touch", "订单上的分销员/团长/帮卖", "the distributor / leader named on the order"),
}
for method, (zh, en, who_zh, who_en) in _ATTR.items():
    register(
        Metric(f"gmv_attr_{method}", f"成交额·{zh}到大C", f"GMV credited to 大C ({en})",
               f"本周成交额中归因给大C的部分：归因对象为{who_zh}且其为大C；其余为品牌直营",
               f"Part of this week's GMV credited to a 大C, namely {who_en} when that person is a 大C; the rest is "
               "brand direct", "yuan", "¥{:,.0f}", M)
    )

_LABELS = {
    "gmv": ("成交额", "GMV"), "orders": ("订单数", "orders"), "buyers": ("购买人数", "buyers"),
    "new_members": ("新会员", "new members"), "active_groups": ("活跃社群", "active groups"),
    "zombie_groups": ("僵尸群", "zombie groups"), "active_dacs": ("活跃大C", "active 大C"),
    "new_dacs": ("新晋大C", "new 大C"), "predicted_clv_12m_base": ("会员池预测12月价值", "predicted CLV of the base"),
}
for key, (zh, en) in _LABELS.items():
    register(
        Metric(f"{key}_wow", f"{zh}周环比", f"WoW change of {en}",
               f"（本周{zh} − 上周{zh}）÷ 上周{zh}；上周为0或未知时为空",
               f"(this week's {en} − last week's) ÷ last week's; empty when last week was 0 or unknown",
               "ratio", "{:+.1%}", M)
    )
