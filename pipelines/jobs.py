"""Jobs: the refresh (everything but the reports) and the weekly report run."""

import dagster as dg

from pipelines.partitions import weekly_partitions

REPORTS_GROUP = "reports"

# landing → staging → every mart → serving snapshot. One run over a range of weeks (tags from
# pipelines.partitions.range_tags); unpartitioned assets simply ignore the range.
refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(REPORTS_GROUP),
    description="Ingest the inbox, rebuild every mart over the whole history, publish a serving snapshot.",
)

# The weekly PDF (and whatever else the report engineer puts in group "reports"), one week per run.
weekly_report_job = dg.define_asset_job(
    "weekly_report",
    selection=dg.AssetSelection.groups(REPORTS_GROUP),
    partitions_def=weekly_partitions,
    description="Render (and send) the weekly report for one complete week.",
)
