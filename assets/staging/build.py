"""Rebuild the canonical staging tables from the ingest records: identity resolution, latest-export-wins orders,
memberships from system notices and WeCom snapshots, messages with first responses, referrals. Pure logic."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from assets.staging.identity import resolve
from xiaoshuju.warehouse import SCHEMA_SQL, transaction

BUILD_SQL = Path(__file__).resolve().parent / "build.sql"
TIMINGS: list = []  # set to [None] to collect (seconds, statement) pairs when profiling

STAGING_TABLES = (
    "orders",
    "order_lines",
    "members",
    "member_identities",
    "groups",
    "group_memberships",
    "messages",
    "referrals",
)


def _statements(sql: str) -> list[str]:
    out, cur = [], []
    for line in sql.splitlines():
        if line.strip().startswith("--") and not cur:
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(cur))
            cur = []
    if "".join(cur).strip():
        out.append("\n".join(cur))
    return out


def table_ddl(qualified: str) -> str:
    """The canonical ``CREATE TABLE`` statement of one table, from assets/staging/schema.sql."""
    sql = SCHEMA_SQL.read_text(encoding="utf-8")
    m = re.search(rf"CREATE TABLE IF NOT EXISTS {re.escape(qualified)} \(.*?\n\);", sql, re.S)
    if m is None:
        raise KeyError(f"{qualified} is not in {SCHEMA_SQL}")
    return m.group(0)


def recreate(conn: duckdb.DuckDBPyConnection, qualified: str) -> None:
    """Empty a table by dropping and re-creating it from the canonical DDL: DuckDB deletes rows of a table with a
    primary key slowly (index maintenance), while a bulk insert into a fresh table is fast."""
    conn.execute(f"DROP TABLE IF EXISTS {qualified}")
    conn.execute(table_ddl(qualified))


def rebuild_staging(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Recompute every staging table in one transaction; returns row counts."""
    conn.execute("SET enable_progress_bar = false")
    with transaction(conn):
        for t in (*STAGING_TABLES, "ops.identity_match_rate"):
            recreate(conn, t if "." in t else f"staging.{t}")
        resolve(conn)
        for stmt in _statements(BUILD_SQL.read_text(encoding="utf-8")):
            t = time.perf_counter()
            conn.execute(stmt)
            if TIMINGS:
                TIMINGS.append((time.perf_counter() - t, stmt.strip().splitlines()[-1][:80]))
    return {t: conn.execute(f"SELECT count(*) FROM staging.{t}").fetchone()[0] for t in STAGING_TABLES}
