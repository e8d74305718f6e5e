"""Small helpers around the warehouse DuckDB file (the single-writer store)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

SCHEMA_SQL = Path(__file__).resolve().parent.parent / "assets" / "staging" / "schema.sql"


def apply_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and canonical table that does not exist yet (idempotent)."""
    conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))


@contextmanager
def connect(path: str | Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse (creating schemas on first write). Prefer DuckDBResource inside Dagster."""
    conn = duckdb.connect(str(path), read_only=read_only)
    try:
        if not read_only:
            apply_schema(conn)
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: a failure rolls back, so no half-written table is ever visible."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def markdown_preview(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None, limit: int = 10) -> str:
    """A small markdown table for Dagit metadata."""
    cur = conn.execute(f"SELECT * FROM ({sql}) LIMIT {int(limit)}", params or [])
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join("" if v is None else str(v).replace("|", "/") for v in r) + " |")
    return "\n".join(out)
