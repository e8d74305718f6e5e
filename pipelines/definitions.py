"""Dagster definitions: wiring only. Every asset lives in assets/, every rule of the business in its module.

Each layer module exposes ASSETS and CHECKS; whatever exists at load time is wired in. The serving snapshot
depends on every last asset of landing, staging and the marts (derived here, so a new mart needs no edit), and
the weekly report job/schedule appear as soon as the reports layer defines an asset.
"""

from datetime import timedelta

import dagster as dg

from assets import landing, reports, serving, staging
from assets.marts import dac_contribution, group_vitality, member_lifetime, weekly_kpis
from pipelines.alerts import alert_on_failures, run_watchdog
from pipelines.jobs import ingest_job, publish_job, refresh_job, weekly_report_job
from pipelines.resources import build_resources
from pipelines.schedules import daily_refresh_schedule, weekly_report_schedule
from pipelines.sensors import inbox_sensor, publish_sensor

UPSTREAM_OF_SERVING = [landing, staging]
MARTS = [member_lifetime, group_vitality, dac_contribution, weekly_kpis]

# A mart older than this shows as stale in Dagit (warn after 2 days without a refresh, fail after 8: the Monday
# report must never be built on marts that missed a whole week of exports).
MART_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=8), warn_window=timedelta(days=2))


def _specs(assets_defs) -> list[dg.AssetSpec]:
    return [spec for a in assets_defs for spec in a.specs]


def terminal_keys(assets_defs) -> list[dg.AssetKey]:
    """Keys no other asset in ``assets_defs`` depends on: the last asset of each chain."""
    specs = _specs(assets_defs)
    depended_on = {d.asset_key for s in specs for d in s.deps}
    return sorted((s.key for s in specs if s.key not in depended_on), key=lambda k: k.to_user_string())


def _with_freshness(assets_defs) -> list:
    return dg.map_asset_specs(
        lambda spec: dg.apply_freshness_policy(spec, MART_FRESHNESS, overwrite_existing=False), assets_defs
    )


def build_defs(before_serving=None, marts=None, report_assets=None, checks=None) -> dg.Definitions:
    """The project's definitions; the arguments replace a layer's assets (tests build small graphs with them)."""
    modules = [*UPSTREAM_OF_SERVING, *MARTS, serving, reports]
    if before_serving is None:
        before_serving = [a for m in UPSTREAM_OF_SERVING for a in m.ASSETS]
    marts = _with_freshness([a for m in MARTS for a in m.ASSETS] if marts is None else marts)
    report_assets = list(reports.ASSETS) if report_assets is None else report_assets
    checks = [c for m in modules for c in m.CHECKS] if checks is None else checks
    snapshot = serving.build_snapshot_asset(terminal_keys(before_serving + marts))
    return dg.Definitions(
        assets=[*before_serving, *marts, snapshot, *serving.ASSETS, *report_assets],
        asset_checks=checks,
        jobs=[refresh_job, ingest_job, publish_job, *([weekly_report_job] if report_assets else [])],
        schedules=[daily_refresh_schedule, *([weekly_report_schedule] if report_assets else [])],
        sensors=[inbox_sensor, publish_sensor, alert_on_failures, run_watchdog],
        resources=build_resources(),
        executor=dg.in_process_executor,
    )


defs = build_defs()
