"""The serving snapshot asset: the only thing the dashboard and the weekly PDF read."""

import json
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.reports.checks import SNAPSHOT_TABLE as CHECK_STATUS_TABLE
from assets.reports.checks import latest_check_statuses
from assets.serving.publish import publish_snapshot
from pipelines.resources import SettingsResource
from xiaoshuju.serving import current_snapshot
from xiaoshuju.warehouse import apply_schema

SNAPSHOT_KEY = dg.AssetKey(["serving", "snapshot"])
ALERT_LOG_TABLE = "ops.alert_log"


def read_alert_log(path: Path) -> pl.DataFrame | None:
    """The alert log (JSON lines written by the alert sensor) as a table, or None when nothing was alerted."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash; the rest stays readable
    if not rows:
        return None
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.all().cast(pl.String))


def check_status_frame(instance: dg.DagsterInstance) -> pl.DataFrame | None:
    """The latest evaluation of every asset check (asset, check_name, passed, severity, partition), so the data
    quality page and a report rendered away from the Dagster instance can see which checks failed."""
    rows = [
        {
            "asset": s.asset,
            "check_name": s.check,
            "passed": s.passed,
            "severity": s.severity,
            "partition": s.partition,
        }
        for s in latest_check_statuses(instance)
    ]
    if not rows:
        return None
    schema = {
        "asset": pl.String,
        "check_name": pl.String,
        "passed": pl.Boolean,
        "severity": pl.String,
        "partition": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort("asset", "check_name", "partition", nulls_last=True)


def _tables_md(tables: dict[str, int]) -> str:
    lines = ["| table | rows |", "|---|---|"]
    lines += [f"| {name} | {rows:,} |" for name, rows in tables.items()]
    return "\n".join(lines)


def build_snapshot_asset(upstream: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The snapshot asset, depending on ``upstream`` (every last asset of landing, staging and the marts, derived
    from the definitions so that a new mart is published without touching this file)."""

    @dg.asset(
        key=SNAPSHOT_KEY,
        group_name="serving",
        deps=list(upstream),
        kinds={"parquet", "duckdb"},
        owners=["team:data-engineering"],
        pool="duckdb_writer",  # it reads the warehouse file, which DuckDB locks per process
        check_specs=[dg.AssetCheckSpec("snapshot_complete", asset=SNAPSHOT_KEY, blocking=True)],
        tags={"layer": "serving"},
    )
    def serving_snapshot(
        context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource
    ) -> dg.MaterializeResult:
        """A consistent, read-only copy of every mart, the file manifest, the ingestion reconciliation and the
        quarantine summary, published as one version that the dashboard and the weekly PDF read. A new version
        replaces the previous one in a single atomic step, so brand managers never see half of a week's
        numbers, and a failed refresh simply leaves yesterday's view in place."""
        s = settings.get()
        alert_log = read_alert_log(s.home / "alerts" / "alert_log.jsonl")
        extra = {ALERT_LOG_TABLE: alert_log} if alert_log is not None else {}
        checks = check_status_frame(context.instance)
        if checks is not None:
            extra[CHECK_STATUS_TABLE] = checks
        with warehouse.get_connection() as conn:
            apply_schema(conn)
            result = publish_snapshot(
                conn, s.serving, keep=s.serving_keep_versions, extra_frames=extra, run_id=context.run.run_id
            )
        snap = current_snapshot(s.serving)
        missing = [t for t in result.tables if not snap.has(t)]
        mismatched = [
            t
            for t, n in result.tables.items()
            if t not in missing and snap.scan(t).select(pl.len()).collect().item() != n
        ]
        ok = snap.version == result.version and not missing and not mismatched
        for name in result.pruned:
            context.log.info(f"pruned serving version {name}")
        return dg.MaterializeResult(
            metadata={
                "version": result.version,
                "data_as_of": result.data_as_of or "no events yet",
                "tables": len(result.tables),
                "rows_total": sum(result.tables.values()),
                "path": dg.MetadataValue.path(str(result.path)),
                "pruned_versions": len(result.pruned),
                "preview": dg.MetadataValue.md(_tables_md(result.tables)),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="snapshot_complete",
                    passed=ok,
                    metadata={
                        "missing_tables": ", ".join(missing) or "none",
                        "row_count_mismatch": ", ".join(mismatched) or "none",
                    },
                    description="CURRENT names the new version and every table reads back with its row count",
                )
            ],
        )

    return serving_snapshot
