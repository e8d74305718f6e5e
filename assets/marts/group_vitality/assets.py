"""Dagster shells of the group vitality mart; the logic is in build.py, the definitions in
docs/marts/group_vitality.md."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.marts.group_vitality.build import build_alerts, build_brand_weekly, build_survival, build_weekly
from pipelines.partitions import weekly_partitions
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import markdown_preview

WEEKLY = dg.AssetKey(["marts", "group_vitality_weekly"])
BRAND = dg.AssetKey(["marts", "group_brand_weekly"])
ALERTS = dg.AssetKey(["marts", "group_alerts"])
SURVIVAL = dg.AssetKey(["marts", "group_survival"])
CHECK_WEEKLY = "group_weeks_valid"

_COMMON = dict(group_name="marts", kinds={"duckdb"}, owners=["team:analytics"], pool="duckdb_writer")
_PARTITIONED = dict(partitions_def=weekly_partitions, backfill_policy=dg.BackfillPolicy.single_run())


def _window(context: dg.AssetExecutionContext):
    tw = context.partition_time_window
    return tw.start.date(), tw.end.date()


@dg.asset(
    key=WEEKLY,
    deps=[["staging", "messages"], ["staging", "group_memberships"], ["staging", "groups"],
          ["staging", "members"], ["marts", "order_attribution"]],
    check_specs=[dg.AssetCheckSpec(
        CHECK_WEEKLY, asset=WEEKLY, blocking=True,
        description="One row per group and week; every score within 0–100; zombies had no member speech "
                    "that week and carry their zombie date; members never negative.")],
    **_PARTITIONED,
    **_COMMON,
)
def group_vitality_weekly(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """The weekly health of every 社群: how many members it has and gained or lost, how many of them speak, how much
    the owner carries the conversation, how fast members' questions get answered, who buys and for how much — and a
    0–100 vitality score built from those, with each sub-score kept so the dashboard can explain it. Each week a
    group is new, active, declining, dormant or zombie (僵尸群: only the owner or staff still post, nobody buys);
    zombies carry the date their silence began. One row per group per Monday–Sunday week (Asia/Shanghai)."""
    s = settings.get()
    start, end = _window(context)
    with warehouse.get_connection() as conn:
        res = build_weekly(conn, s.thresholds, s.timezone, start, end)
        window = "FROM marts.group_vitality_weekly WHERE week_start >= ? AND week_start < ?"
        bad = conn.execute(f"""
            SELECT count(*) FILTER (WHERE vitality_score NOT BETWEEN 0 AND 100
                       OR greatest(score_speak_rate, score_activity, score_conversion, score_growth,
                                   score_response) > 100
                       OR least(score_speak_rate, score_activity, score_conversion, score_growth, score_response) < 0
                       OR members_end < 0
                       OR (is_zombie AND (speakers > 0 OR zombie_since IS NULL))),
                   count(*) - count(DISTINCT (group_id, week_start))
            {window}""", [start, end]).fetchone()
        states = dict(conn.execute(f"SELECT lifecycle_state, count(*) {window} GROUP BY 1", [start, end]).fetchall())
        preview = markdown_preview(
            conn, "SELECT week_start, group_id, members_end, speakers, messages, buyers, gmv, "
                  f"round(vitality_score, 1) AS vitality_score, lifecycle_state, zombie_since {window} "
                  "ORDER BY week_start DESC, vitality_score DESC", [start, end])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(res.rows_inserted),
            "rows_replaced": dg.MetadataValue.int(res.rows_deleted),
            "range": f"{start} .. {end}",
            "as_of": str(res.as_of),
            "lifecycle_states": dg.MetadataValue.json({k: int(v) for k, v in states.items()}),
            "preview": dg.MetadataValue.md(preview),
        },
        check_results=[dg.AssetCheckResult(
            check_name=CHECK_WEEKLY, passed=bool(bad[0] == 0 and bad[1] == 0),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"invalid_rows": int(bad[0]), "duplicate_rows": int(bad[1])})],
    )


@dg.asset(key=BRAND, deps=[WEEKLY], **_PARTITIONED, **_COMMON)
def group_brand_weekly(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """The brand's whole community estate in one row per week, in the same fields as WeCom's group statistics
    (groups, groups with messages, new groups, members, members who spoke, messages, new members), plus how many
    groups are active, declining, dormant or zombie and the average vitality — so a brand can compare our numbers
    with what its WeCom console shows and see the trend of its community as a whole."""
    s = settings.get()
    start, end = _window(context)
    with warehouse.get_connection() as conn:
        n = build_brand_weekly(conn, s.timezone, start, end)
        preview = markdown_preview(
            conn, "SELECT * FROM marts.group_brand_weekly WHERE week_start >= ? AND week_start < ? "
                  "ORDER BY week_start DESC", [start, end])
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(n),
                                          "range": f"{start} .. {end}", "preview": dg.MetadataValue.md(preview)})


@dg.asset(key=ALERTS, deps=[WEEKLY], **_PARTITIONED, **_COMMON)
def group_alerts(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """This week's groups that need a call: groups that just became zombies (nobody but the owner or staff has spoken
    or bought for three weeks) and groups whose vitality just started to fall sharply — each with the reason in
    plain Chinese and English, so an operator can ring the 大C who owns the group before it is lost."""
    start, end = _window(context)
    with warehouse.get_connection() as conn:
        n = build_alerts(conn, start, end, settings.get().timezone)
        preview = markdown_preview(
            conn, "SELECT week_start, group_id, alert_type, reason_zh FROM marts.group_alerts "
                  "WHERE week_start >= ? AND week_start < ? ORDER BY week_start DESC, alert_type DESC", [start, end])
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(n),
                                          "range": f"{start} .. {end}", "preview": dg.MetadataValue.md(preview)})


@dg.asset(key=SURVIVAL, deps=[WEEKLY], **_COMMON)
def group_survival(warehouse: DuckDBResource, settings: SettingsResource) -> dg.MaterializeResult:
    """How long the brand's groups typically stay alive: for groups created in each month, the share still not
    zombie after t days (Kaplan–Meier, so groups too young to have died yet count correctly) and the median
    lifetime — the number that tells a brand whether its new groups die faster than its old ones did."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        n = build_survival(conn, s.timezone)
        preview = markdown_preview(
            conn, "SELECT cohort, cohort_groups, any_value(median_survival_days) AS median_survival_days, "
                  "min(survival) AS survival_at_end FROM marts.group_survival GROUP BY 1, 2 ORDER BY 1")
    return dg.MaterializeResult(metadata={"dagster/row_count": dg.MetadataValue.int(n),
                                          "preview": dg.MetadataValue.md(preview)})


ASSETS = [group_vitality_weekly, group_brand_weekly, group_alerts, group_survival]
CHECKS: list = []
