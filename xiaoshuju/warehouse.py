"""Small helpers around the warehouse DuckDB file (the single-writer store)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

SCHEMA_SQL = Path(__file__).resolve().parent.parent / "assets" / "staging" / "schema.sql"
SCAN_CHUNK_ROWS = 122_880  # one DuckDB row group
# The business-event column of each staging table that has one: where the data begins (pipelines.partitions), how
# far back a run's new rows reach (pipelines.increments) and which rebuilt rows count as changed
# (assets.staging.build) are read from these.
EVENT_COLUMNS = (
    ("orders", "created_at"),
    ("messages", "sent_at"),
    ("group_memberships", "event_at"),
    ("referrals", "referred_at"),
)


def scannable(df):
    """A polars frame as an Arrow table of row-group-sized chunks, for ``conn.register``: DuckDB scans an Arrow
    table chunk by chunk in parallel (insertion order kept), but a single-chunk frame on one thread — inserting 1 M
    messages took 1.5 s that way against ~1.0 s chunked."""
    import polars as pl
    import pyarrow as pa

    # Arrow string views, polars' own layout (the default, large_string, copies every string: 0.13 s per 3 M)
    table = df.to_arrow(compat_level=pl.CompatLevel.newest())
    return pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_CHUNK_ROWS), schema=table.schema)


_SIZE = re.compile(r"^\d+(\.\d+)?\s*[KMGT]i?B$")


def ram_share(fraction: float) -> str:
    """A DuckDB memory_limit value: this share of the machine's physical memory."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(total * fraction / 2**30, 0.25):.1f}GiB"


@contextmanager
def memory_limit(conn: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """Temporarily cap DuckDB's memory (SET takes no bound parameters: the value is checked against a pattern)."""
    if not limit:
        yield
        return
    old = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    if not (_SIZE.match(limit) and _SIZE.match(old)):
        raise ValueError(f"memory limit must look like '2.5GB', got {limit!r} / {old!r}")
    conn.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        conn.execute(f"SET memory_limit = '{old}'")


_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_UNITS.update({"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12})


def size_bytes(value: str) -> int:
    """'3.7 GiB' / '512.0 MiB' / '0 bytes' (how DuckDB shows a size) → bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", value)
    if m is None or m.group(2) not in _UNITS:
        raise ValueError(f"not a size: {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def keep_block_memory(conn: duckdb.DuckDBPyConnection, limit: str) -> None:
    """Let DuckDB keep up to ``limit`` of freed 256 KiB buffer blocks for reuse (``block_allocator_memory``, a
    setting of the database instance; it can only grow, so a smaller value leaves it as it is). By default every
    freed block goes back to the OS and the next one is page-faulted in anew: the L staging build faulted 11 M pages
    (sys 44 of 350 CPU-s); with 16 GiB kept, 8 M and 33 s, build 185 → 166 s. The kept memory is returned when the
    database closes, and DuckDB's memory_limit still bounds what it holds."""
    if not _SIZE.match(limit):
        raise ValueError(f"block memory must look like '2.5GiB', got {limit!r}")
    current = conn.execute("SELECT current_setting('block_allocator_memory')").fetchone()[0]
    if size_bytes(limit) > size_bytes(current):
        conn.execute(f"SET block_allocator_memory = '{limit}'")


# The storage format of a warehouse DuckDB creates (a property of the file, fixed when it is created; a file made
# before keeps its own). DuckDB's default writes files readable by DuckDB 0.10.2, and strings then compress with
# FSST or a dictionary, tried for every segment; strings were most of what writing costs (of ~39 s writing the 51 M
# L staging messages from a temp table, ~34 s were its six string columns). The 1.5 format compresses strings with
# DICT_FSST: 20 M synthetic rows of such columns wrote with 25–30 % less CPU (low-cardinality ones like kind ~40 %),
# and the L staging build took 155 s instead of 201 s back to back (docs/data_contracts.md, session 23). Every
# DuckDB that opens the warehouse is our pinned 1.5.
STORAGE_VERSION = "v1.5.0"
DUCKDB_CONFIG = {"storage_compatibility_version": STORAGE_VERSION}

# In a file of the older format DuckDB 1.5 still tries DICT_FSST on every string column segment it writes, besides
# Dictionary and FSST. There it never won (pragma_storage_info of a whole M warehouse: FSST and Dictionary only),
# but trying it cost ~12 % of writing 5 M staging messages (CPU 7.9 → 6.9 s; the file the same size). In a 1.5 file
# DICT_FSST is the string compression, and disabling it would store strings uncompressed.
SKIPPED_COMPRESSION_OLD_FORMAT = "dict_fsst"


def storage_version(conn: duckdb.DuckDBPyConnection) -> str:
    """The storage format of the connection's default database file, e.g. 'v1.5.0+' ('' in memory)."""
    row = conn.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return (row[0] if row else None) or ""


def apply_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and canonical table that does not exist yet (idempotent), and set how the writer's
    DuckDB compresses (a setting of the database instance, so of every connection to it)."""
    old = not storage_version(conn).startswith(STORAGE_VERSION)
    conn.execute(f"SET disabled_compression_methods = '{SKIPPED_COMPRESSION_OLD_FORMAT if old else ''}'")
    conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))


@contextmanager
def connect(path: str | Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse (creating schemas on first write). Prefer DuckDBResource inside Dagster."""
    conn = duckdb.connect(str(path), read_only=read_only, config=DUCKDB_CONFIG)
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
