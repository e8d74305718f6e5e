"""marts/weekly_kpis: the weekly KPI roll-up behind the overview page and the Monday PDF."""

from assets.marts.weekly_kpis.asset import weekly_kpis

ASSETS: list = [weekly_kpis]
CHECKS: list = []
