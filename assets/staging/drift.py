"""Drift and reconciliation queries behind the staging checks (pure functions over a DuckDB connection)."""

from __future__ import annotations

import duckdb

from data_contracts.gx_suites import known_status_texts

ROW_DROP_RATIO = 0.5  # warn when the newest batch delivers < 50 % of the usual rows per file of a source


def unknown_status_texts(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    known = known_status_texts()
    return conn.execute(
        "SELECT status_raw, count(*) FROM staging.orders WHERE status_raw IS NOT NULL "
        "AND NOT list_contains(?, status_raw) GROUP BY 1 ORDER BY 2 DESC",
        [known],
    ).fetchall()


def row_drop_warnings(conn: duckdb.DuckDBPyConnection, ratio: float = ROW_DROP_RATIO) -> list[str]:
    rows = conn.execute(
        """
        WITH f AS (
            SELECT r.source_format, m.ingested_at, r.rows_loaded
            FROM ops.reconciliation r JOIN landing.manifest m USING (file_sha256)
            WHERE r.source_format IS NOT NULL AND m.ingested_at IS NOT NULL
        ), latest AS (SELECT source_format, max(ingested_at) AS t FROM f GROUP BY 1)
        SELECT f.source_format,
               avg(f.rows_loaded) FILTER (WHERE f.ingested_at = l.t) AS newest,
               median(f.rows_loaded) FILTER (WHERE f.ingested_at < l.t) AS usual
        FROM f JOIN latest l USING (source_format) GROUP BY 1
        """
    ).fetchall()
    return [
        f"{fmt}: newest files carry {newest:,.0f} rows on average, usually {usual:,.0f} — check the export"
        for fmt, newest, usual in rows
        if usual and newest is not None and newest < ratio * usual
    ]


def reconciliation_problems(conn: duckdb.DuckDBPyConnection) -> tuple[list[str], int]:
    n = conn.execute("SELECT count(*) FROM ops.reconciliation").fetchone()[0]
    bad = conn.execute(
        """
        SELECT r.file_name, r.rows_in, r.rows_loaded, r.rows_quarantined, coalesce(q.records, 0)
        FROM ops.reconciliation r
        LEFT JOIN (SELECT file_sha256, sum(records) AS records FROM quarantine.rows GROUP BY 1) q USING (file_sha256)
        WHERE r.rows_in <> r.rows_loaded + r.rows_quarantined OR r.rows_quarantined <> coalesce(q.records, 0)
           OR NOT r.reconciled
        ORDER BY r.file_name
        """
    ).fetchall()
    return [
        f"{name}: in {i}, loaded {lo}, quarantined {qq} (quarantine table holds {qr})"
        for name, i, lo, qq, qr in bad
    ], int(n)
