"""Stable DDL of the 大C mart plus column comments from the metric registry."""

from __future__ import annotations

from pathlib import Path

import duckdb

from xiaoshuju.metrics import all_metrics, column_comment

DDL_SQL = Path(__file__).with_name("ddl.sql")
MART = "dac_contribution"
TABLES = (
    "dacs",
    "order_attribution",
    "referral_tree",
    "referral_anomalies",
    "referral_tree_stats",
    "referral_kfactor_cohort",
    "referral_generation_gmv",
    "dac_contribution_weekly",
    "dac_concentration_weekly",
    "dac_alerts",
)


def _expected_layout() -> dict[str, list[tuple[str, str]]]:
    """(column, type) per table as the DDL defines them, read from a scratch in-memory database."""
    with duckdb.connect() as scratch:
        scratch.execute(DDL_SQL.read_text(encoding="utf-8"))
        return _layout(scratch)


def _layout(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'marts' "
        "AND list_contains(?, table_name) ORDER BY table_name, column_index",
        [list(TABLES)],
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, []).append((column, dtype))
    return out


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the mart tables if missing and write column comments for every registered metric column.

    Every table here is derived data: one whose live layout differs from ddl.sql (an older version of this mart,
    or one with PRIMARY KEY indexes) is dropped and recreated, and its asset refills it. Comments are only written
    when they differ, so a call costs two catalog queries when nothing changed.
    """
    live = _layout(conn)
    indexed = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE schema_name = 'marts' "
            "AND constraint_type = 'PRIMARY KEY' AND list_contains(?, table_name)",
            [list(TABLES)],
        ).fetchall()
    }
    if live:
        expected = _expected_layout()
        for table in live:
            if live[table] != expected.get(table) or table in indexed:
                conn.execute(f"DROP TABLE marts.{table}")  # name from TABLES above
    conn.execute(DDL_SQL.read_text(encoding="utf-8"))
    wanted = {m.key: column_comment(m.key) for m in all_metrics(MART)}
    current = conn.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' "
        "AND list_contains(?, table_name)",
        [list(TABLES)],
    ).fetchall()
    for table, column, comment in current:
        text = wanted.get(column)
        if text is not None and text != comment:
            # identifiers come from our own DDL/registry; the text is a literal from the registry, quotes doubled
            conn.execute(
                f"COMMENT ON COLUMN marts.{table}.{column} IS '{text.replace(chr(39), chr(39) * 2)}'"
            )


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )
