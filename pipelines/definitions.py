"""Dagster definitions: wiring only. Every asset lives in assets/, every rule of the business in its module."""

import dagster as dg

from assets import landing, reports, serving, staging
from assets.marts import dac_contribution, group_vitality, member_lifetime, weekly_kpis
from pipelines.resources import build_resources

_MODULES = [landing, staging, member_lifetime, group_vitality, dac_contribution, weekly_kpis, serving, reports]

defs = dg.Definitions(
    assets=[a for m in _MODULES for a in m.ASSETS],
    asset_checks=[c for m in _MODULES for c in m.CHECKS],
    resources=build_resources(),
    executor=dg.in_process_executor,
)
