"""A tiny stand-in for the project's graph (real landing + toy staging, mart and report), for pipeline tests that
must not depend on the other layers' progress. Also a Dagster code location: ``dagster ... -f toy_graph.py``.

The toy mart counts landed files per week and carries a check that fails when an inbox file was unreadable
(a deliberately broken input). A file ``$XIAOSHUJU_HOME/toy_mart_sleep`` holding seconds makes it slow, so a test
can kill a run in the middle of the marts.
"""

import time

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.landing.asset import landing_manifest
from pipelines.definitions import build_defs
from pipelines.partitions import weekly_partitions
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import transaction

# The real staging asset's key (the publish sensor follows its materialisations); the table is staging.toy_files.
# No event metadata: publish runs fall back to the whole partitions definition.
STAGING_KEY = dg.AssetKey(["staging", "orders"])
MART_KEY = dg.AssetKey(["marts", "toy_weekly"])
REPORT_KEY = dg.AssetKey(["reports", "toy_report"])


@dg.asset(key=STAGING_KEY, group_name="staging", deps=[landing_manifest.key], pool="duckdb_writer")
def toy_staging(warehouse: DuckDBResource) -> dg.MaterializeResult:
    """Readable files, one row each."""
    with warehouse.get_connection() as conn, transaction(conn):
        conn.execute(
            "CREATE OR REPLACE TABLE staging.toy_files AS SELECT file_name, status, first_seen_at FROM landing.manifest"
        )
        (n,) = conn.execute("SELECT count(*) FROM staging.toy_files").fetchone()
    return dg.MaterializeResult(metadata={"dagster/row_count": n})


@dg.asset(
    key=MART_KEY,
    group_name="marts",
    deps=[STAGING_KEY],
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_writer",
    check_specs=[dg.AssetCheckSpec("all_files_readable", asset=MART_KEY)],
)
def toy_mart(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: SettingsResource
) -> dg.MaterializeResult:
    """Files landed per week."""
    window = context.partition_time_window
    with warehouse.get_connection() as conn:
        with transaction(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS marts.toy_weekly (week_start DATE, files BIGINT)")
            conn.execute(
                "DELETE FROM marts.toy_weekly WHERE week_start >= ? AND week_start < ?",
                [window.start.date(), window.end.date()],
            )
            conn.execute(
                "INSERT INTO marts.toy_weekly SELECT * FROM (SELECT date_trunc('week', first_seen_at AT TIME ZONE"
                " 'Asia/Shanghai')::DATE AS week_start, count(*) FROM staging.toy_files GROUP BY 1)"
                " WHERE week_start >= ? AND week_start < ?",
                [window.start.date(), window.end.date()],
            )
        (bad,) = conn.execute(
            "SELECT count(*) FROM staging.toy_files WHERE status <> 'registered'"
        ).fetchone()
    hook = settings.get().home / "toy_mart_sleep"
    delay = float(hook.read_text()) if hook.exists() else 0.0
    if delay:
        context.log.info(f"sleeping {delay}s (test hook)")
        time.sleep(delay)
    return dg.MaterializeResult(
        metadata={"weeks": len(context.partition_keys)},
        check_results=[
            dg.AssetCheckResult(
                check_name="all_files_readable", passed=bad == 0, metadata={"unreadable_files": bad}
            )
        ],
    )


@dg.asset(
    key=REPORT_KEY,
    group_name="reports",
    deps=[dg.AssetKey(["serving", "snapshot"])],
    partitions_def=weekly_partitions,
)
def toy_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """The week's report."""
    return dg.MaterializeResult(metadata={"week": context.partition_key})


defs = build_defs(
    before_serving=[landing_manifest, toy_staging], marts=[toy_mart], report_assets=[toy_report], checks=[]
)
