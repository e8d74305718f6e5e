"""marts/group_vitality assets (filled in by its issue)."""

ASSETS: list = []
CHECKS: list = []
