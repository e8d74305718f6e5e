"""marts/member_lifetime assets (filled in by its issue)."""

ASSETS: list = []
CHECKS: list = []
