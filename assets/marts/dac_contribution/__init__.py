"""marts/dac_contribution: 大C identification, order attribution, referral trees, weekly contribution,
concentration and alerts (docs/marts/dac_contribution.md)."""

from assets.marts.dac_contribution.assets import (
    dac_alerts,
    dac_concentration_weekly,
    dac_contribution_weekly,
    dacs,
    order_attribution,
    referral_tree,
    referral_tree_stats,
)

ASSETS = [
    dacs,
    order_attribution,
    referral_tree,
    referral_tree_stats,
    dac_contribution_weekly,
    dac_concentration_weekly,
    dac_alerts,
]
CHECKS: list = []
