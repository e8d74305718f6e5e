"""Dagster shell of the weekly executive PDF; the logic is in weekly.py."""

import dagster as dg

from assets.reports.checks import from_instance
from assets.reports.weekly import produce_weekly_report
from pipelines.partitions import weekly_partitions
from pipelines.resources import SettingsResource

KEY = ["reports", "weekly_pdf"]


class WeeklyPdfConfig(dg.Config):
    """send: email the PDF — "auto" (default) emails only the last complete week, so backfills never mail old
    weeks to executives; "always" / "never" override. force: resend a week that was already emailed."""

    send: str = "auto"
    force: bool = False
    lang: str = ""


def _check_keys(context: dg.AssetExecutionContext) -> set:
    """Every asset check the code location defines (a check removed from the code no longer blocks)."""
    try:
        return set(context.repository_def.asset_graph.asset_check_keys)
    except Exception:  # noqa: BLE001  (dg.materialize runs have no repository: every recorded check counts)
        return set()


@dg.asset(
    key=KEY,
    group_name="reports",
    partitions_def=weekly_partitions,
    deps=[["serving", "snapshot"]],
    kinds={"pdf", "email"},
    owners=["team:reports"],
    tags={"layer": "reports"},
)
def weekly_pdf(
    context: dg.AssetExecutionContext, config: WeeklyPdfConfig, settings: SettingsResource
) -> dg.MaterializeResult:
    """The Monday executive report: a 3-page A4 PDF (Chinese by default) with the week's headline KPIs and their
    trend, GMV by attribution method, the top and fastest-moving 大C, groups that turned zombie or declining,
    members at risk and a data-quality line — emailed once to the recipients in settings and archived. Read from
    the serving snapshot only; a week whose blocking data checks failed gets no PDF, the data team an alert."""
    from pipelines.partitions import previous_week_key

    s = settings.get()
    window = context.partition_time_window
    week_start = window.start.date()
    week_key = context.partition_key
    statuses = from_instance(context.instance, week_key, _check_keys(context))
    send = config.send == "always" or (config.send == "auto" and week_key == previous_week_key())
    outcome = produce_weekly_report(
        s,
        week_start,
        lang=config.lang or None,
        send=send and bool(s.smtp.recipients),
        force=config.force,
        checks=statuses,
    )
    if outcome.status == "blocked":
        raise dg.Failure(
            description=f"no report for {outcome.week}: {outcome.detail}",
            metadata={
                "failed_checks": "\n".join(outcome.failed_checks),
                "alerted": ", ".join(outcome.emailed_to) or "nobody (no recipients configured)",
            },
        )
    context.log.info(f"{outcome.week}: {outcome.status} {outcome.detail}")
    return dg.MaterializeResult(
        metadata={
            "pdf": dg.MetadataValue.path(str(outcome.pdf)),
            "pages": outcome.pages,
            "status": outcome.status,
            "emailed_to": ", ".join(outcome.emailed_to) or "—",
            "snapshot": outcome.snapshot_version,
            "sections_not_available": ", ".join(f"{k}: {v}" for k, v in outcome.missing_sections.items())
            or "none",
            "checks_seen": len(statuses),
        }
    )
