"""Blocking data-contract checks on the staging tables (GX Core 1.x suites from data_contracts/canonical/*.yaml),
drift warnings, and the per-file reconciliation (rows in = loaded + quarantined)."""

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import dagster as dg  # noqa: E402
from dagster_duckdb import DuckDBResource  # noqa: E402

from assets.staging.asset import STAGING_TABLES  # noqa: E402
from assets.staging.drift import reconciliation_problems, row_drop_warnings, unknown_status_texts  # noqa: E402
from pipelines.resources import SettingsResource  # noqa: E402

CONTRACT_TABLES = [(t, ["staging", t]) for t in STAGING_TABLES] + [
    ("quarantine.rows", ["quarantine", "rows"])
]


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name="contract",
            asset=dg.AssetKey(key),
            blocking=True,
            description=f"{t if '.' in t else 'staging.' + t} meets its data contract (data_contracts/canonical): "
            "types, keys, allowed values, ranges — validated with Great Expectations; a break blocks the marts.",
        )
        for t, key in CONTRACT_TABLES
    ],
    name="staging_contracts",
    pool="duckdb_writer",
)
def staging_contracts(settings: SettingsResource, warehouse: DuckDBResource):
    """All contract suites in one step: GX starts once and the Data Docs are rendered once per run."""
    from data_contracts.gx_suites import build_docs, validate_table

    s = settings.get()
    docs = s.reports / "data_docs"
    results = []
    with warehouse.get_connection() as conn:
        for t, key in CONTRACT_TABLES:
            results.append((t, key, validate_table(conn, t, docs)))
    index = build_docs(docs)
    for _t, key, v in results:
        yield dg.AssetCheckResult(
            asset_key=dg.AssetKey(key),
            check_name="contract",
            passed=v.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows": v.rows,
                "rows_validated": v.sampled,
                "failures": dg.MetadataValue.md(v.summary_md()),
                "data_docs": str(index) if index else "not built",
            },
        )


@dg.asset_check(
    asset=dg.AssetKey(["quarantine", "rows"]),
    name="reconciliation",
    blocking=True,
    pool="duckdb_writer",
    description="Every ingested file reconciles: rows in = rows loaded + rows quarantined, and the quarantine table "
    "holds exactly the quarantined records.",
)
def reconciliation_check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        bad, n_files = reconciliation_problems(conn)
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "files_checked": n_files,
            "files_not_reconciled": len(bad),
            "problems": dg.MetadataValue.md("\n".join(f"- {b}" for b in bad[:20]) or "none"),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["staging", "orders"]),
    name="drift",
    blocking=False,
    pool="duckdb_writer",
    description="Warns on drift: an order status text no mapping knows, or a source suddenly delivering far fewer "
    "rows per file than before.",
)
def orders_drift_check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        unknown = unknown_status_texts(conn)
        drops = row_drop_warnings(conn)
    lines = [f"- unknown status `{s}` ({n} orders): add it to the mapping YAML" for s, n in unknown]
    lines += [f"- {d}" for d in drops]
    return dg.AssetCheckResult(
        passed=not lines,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unknown_statuses": len(unknown),
            "row_drops": len(drops),
            "details": dg.MetadataValue.md("\n".join(lines) or "none"),
        },
    )


CHECKS = [staging_contracts, reconciliation_check, orders_drift_check]
