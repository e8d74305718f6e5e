"""marts/dac_contribution assets (filled in by its issue)."""

ASSETS: list = []
CHECKS: list = []
