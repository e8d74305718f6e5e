"""Jobs: ingest (landing + staging), publish (every mart + serving snapshot), refresh (both, by hand) and the
weekly report run."""

import dagster as dg

from pipelines.partitions import weekly_partitions

REPORTS_GROUP = "reports"
INGEST_GROUPS = ("landing", "staging")

# What the inbox sensor launches: register new exports, load them into staging. Unpartitioned.
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups(*INGEST_GROUPS),
    description="Register the inbox's new exports and rebuild staging (no marts).",
)

# What the publish sensor and the daily schedule launch after an ingest: every mart over the weeks new data can
# change (range tags from pipelines.increments.publish_range), then the serving snapshot.
publish_job = dg.define_asset_job(
    "publish",
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.groups(*INGEST_GROUPS)
    - dg.AssetSelection.groups(REPORTS_GROUP),
    description="Rebuild every mart over the weeks new data can change and publish a serving snapshot.",
)

# landing → staging → every mart → serving snapshot. One run over a range of weeks (tags from
# pipelines.partitions.range_tags); unpartitioned assets simply ignore the range. For hand-launched runs and
# materialize_all (which runs it twice: ingest selection, then publish selection).
refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(REPORTS_GROUP),
    description="Ingest the inbox, rebuild every mart over a range of weeks, publish a serving snapshot.",
)

# The weekly PDF (and whatever else the report engineer puts in group "reports"), one week per run.
weekly_report_job = dg.define_asset_job(
    "weekly_report",
    selection=dg.AssetSelection.groups(REPORTS_GROUP),
    partitions_def=weekly_partitions,
    description="Render (and send) the weekly report for one complete week.",
)
