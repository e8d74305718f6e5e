"""Dagster shell of the weekly KPI roll-up; the logic is in build.py."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.marts.weekly_kpis.build import TABLE, write_weekly_kpis
from pipelines.partitions import weekly_partitions
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import markdown_preview

KEY = ["marts", "weekly_kpis"]
CHECK_CONSISTENT = "kpis_consistent"


@dg.asset(
    key=KEY,
    group_name="marts",
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        ["staging", "orders"],
        ["staging", "members"],
        ["staging", "messages"],
        ["marts", "group_vitality_weekly"],
        ["marts", "dac_contribution_weekly"],
        ["marts", "order_attribution"],
        ["marts", "member_lifetime"],
        ["marts", "dacs"],
    ],
    pool="duckdb_writer",
    kinds={"duckdb"},
    owners=["team:reports"],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_CONSISTENT,
            asset=KEY,
            description="Every week present once; GMV ≥ 0; buyers ≤ orders; attributed GMV ≤ GMV per method.",
            blocking=False,
        )
    ],
)
def weekly_kpis(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """The brand's week in nine numbers: GMV, orders, buyers, new members, active and zombie groups, active and new
    大C and the predicted 12-month value of the member base — each with its week-over-week change, plus how much
    GMV each attribution method credits to 大C. This is the first thing an executive reads (overview page, Monday
    PDF); one row per Monday-to-Sunday week in Asia/Shanghai time."""
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    s = settings.get()
    with warehouse.get_connection() as conn:
        df = write_weekly_kpis(conn, start, end, s.timezone)
        problems = conn.execute(
            f"""SELECT count(*) FILTER (WHERE gmv < 0 OR buyers > orders
                       OR gmv_attr_group > gmv OR gmv_attr_first_touch > gmv OR gmv_attr_last_touch > gmv),
                       count(*), count(DISTINCT week_start)
                FROM {TABLE} WHERE week_start >= ? AND week_start < ?""",
            [start, end],
        ).fetchone()
        preview = markdown_preview(
            conn,
            f"SELECT week_label, gmv, gmv_wow, orders, buyers, new_members, active_groups, zombie_groups, "
            f"active_dacs, new_dacs FROM {TABLE} WHERE week_start >= ? AND week_start < ? ORDER BY week_start DESC",
            [start, end],
        )
    weeks_expected = len(context.partition_keys)
    ok = problems[0] == 0 and problems[1] == problems[2] == weeks_expected
    return dg.MaterializeResult(
        metadata={
            "weeks": dg.MetadataValue.int(len(df)),
            "dagster/row_count": dg.MetadataValue.int(len(df)),
            "range": f"{start} .. {end}",
            "preview": dg.MetadataValue.md(preview),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_CONSISTENT,
                passed=bool(ok),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "inconsistent_weeks": int(problems[0]),
                    "rows": int(problems[1]),
                    "weeks_expected": weeks_expected,
                },
            )
        ],
    )
