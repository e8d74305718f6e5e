"""Staging: every registered export → canonical tables (orders … referrals) + quarantine, with contract checks."""

from assets.staging.asset import staging_tables
from assets.staging.checks import CHECKS

ASSETS = [staging_tables]

__all__ = ["ASSETS", "CHECKS"]
