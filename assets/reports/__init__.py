"""reports: the weekly executive PDF (render from the serving snapshot, email once per week, archive)."""

from assets.reports.asset import weekly_pdf

ASSETS: list = [weekly_pdf]
CHECKS: list = []
