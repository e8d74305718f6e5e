"""marts/member_lifetime: RFM, BG/NBD + Gamma-Gamma CLV, churn risk, lifecycle, cohorts and the 小c→大C ladder.

Tables and columns: docs/marts/member_lifetime.md. Logic: btyd.py (models), model.py (fit + guard + scoring),
queries.py / build.py (DuckDB SQL); assets.py holds the thin Dagster shells.
"""

from assets.marts.member_lifetime.assets import (
    clv_model,
    cohort_retention,
    member_lifecycle_weekly,
    member_lifetime,
)

ASSETS: list = [clv_model, member_lifetime, cohort_retention, member_lifecycle_weekly]
CHECKS: list = []  # checks are declared with their assets (check_specs) and returned with the materialization
