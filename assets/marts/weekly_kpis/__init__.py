"""marts/weekly_kpis assets (filled in by its issue)."""

ASSETS: list = []
CHECKS: list = []
