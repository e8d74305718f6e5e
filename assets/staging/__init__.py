"""staging assets (filled in by its issue)."""

ASSETS: list = []
CHECKS: list = []
