"""Publish a serving snapshot: a versioned, read-only Parquet copy of what the dashboard and the PDF read.

Pure logic (no Dagster). The layout is documented in ``xiaoshuju/serving.py`` (the reader). Publishing is
crash-safe: the version is written into a hidden temporary directory, renamed into place, and only then does
``CURRENT`` flip (write a temp file, fsync, ``os.replace``). A run killed at any point leaves ``CURRENT`` on the
previous complete version; leftovers of a killed publish are swept by the next one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from xiaoshuju.serving import CURRENT, META

TMP_PREFIX = ".tmp-"
BATCH_ROWS = 256_000
QUARANTINE_SAMPLE_PER_REASON = 50

# Every table of these schemas is published as-is ...
WHOLE_SCHEMAS = ("marts", "ops")
# ... plus these single tables.
EXTRA_TABLES = (("staging", "groups"),)  # groups: (masked) names + owners for the dashboard
# The file manifest, with person names inside file names masked (chat exports are often named after the group,
# and groups after their owner: "任浩艳的生鲜社区团.csv"); the archive path, which repeats the raw name, stays in the
# warehouse for data engineers.
MANIFEST_SQL = """
SELECT * EXCLUDE (archived_path) FROM landing.manifest ORDER BY first_seen_at, file_name
"""

QUARANTINE_SUMMARY_SQL = """
SELECT file_name, source_format, reason_code, count(*) AS rows_quarantined,
       min(line_no) AS first_line_no, any_value(reason) AS example_reason, max(quarantined_at) AS last_quarantined_at
FROM quarantine.rows
GROUP BY ALL
ORDER BY rows_quarantined DESC, file_name, reason_code
"""
# A few masked example rows per file and reason, for the data-quality page (the full list stays in the warehouse).
QUARANTINE_SAMPLE_SQL = """
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY file_sha256, reason_code ORDER BY line_no) AS rn
    FROM quarantine.rows
) WHERE rn <= ?
ORDER BY file_name, reason_code, line_no
"""
# Newest business event the warehouse knows about: what the data is "as of".
DATA_AS_OF_SOURCES = (
    ("staging", "orders", "created_at"),
    ("staging", "messages", "sent_at"),
    ("staging", "group_memberships", "event_at"),
    ("staging", "referrals", "referred_at"),
)


@dataclass
class PublishResult:
    version: str
    path: Path
    tables: dict[str, int]
    data_as_of: str | None
    pruned: list[str] = field(default_factory=list)


def _qi(name: str) -> str:
    """Quote an SQL identifier (names come from information_schema, never from users)."""
    return '"' + name.replace('"', '""') + '"'


def _existing_tables(conn: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    rows = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    return {(s, t) for s, t in rows}


def tables_to_publish(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{snapshot table name: SELECT statement} for everything a snapshot carries, in a stable order."""
    existing = _existing_tables(conn)
    out: dict[str, str] = {}
    for schema, table in sorted(existing):
        if schema in WHOLE_SCHEMAS:
            out[f"{schema}.{table}"] = f"SELECT * FROM {_qi(schema)}.{_qi(table)}"
    for schema, table in EXTRA_TABLES:
        if (schema, table) in existing:
            out[f"{schema}.{table}"] = f"SELECT * FROM {_qi(schema)}.{_qi(table)}"
    if ("quarantine", "rows") in existing:
        out["quarantine.summary"] = QUARANTINE_SUMMARY_SQL
        out["quarantine.rows_sample"] = QUARANTINE_SAMPLE_SQL
    return out


def data_as_of(conn: duckdb.DuckDBPyConnection) -> str | None:
    existing = _existing_tables(conn)
    best = None
    for schema, table, col in DATA_AS_OF_SOURCES:
        if (schema, table) not in existing:
            continue
        (v,) = conn.execute(f"SELECT max({_qi(col)}) FROM {_qi(schema)}.{_qi(table)}").fetchone()
        if v is not None and (best is None or v > best):
            best = v
    return best.astimezone(UTC).isoformat() if best is not None else None


def _column_docs(conn: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    schema, _, table = name.partition(".")
    rows = conn.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [schema, table],
    ).fetchall()
    return [{"name": c, "type": t, "comment": k} for c, t, k in rows]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_parquet(conn: duckdb.DuckDBPyConnection, sql: str, params: list, dest: Path) -> int:
    """Stream a query into one Parquet file; returns the row count."""
    reader = conn.execute(sql, params).fetch_record_batch(BATCH_ROWS)
    rows = 0
    with pq.ParquetWriter(dest, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    with dest.open("rb") as fh:
        os.fsync(fh.fileno())
    return rows


def new_version(now: datetime | None = None) -> str:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"v{now:%Y%m%dT%H%M%S}Z_{secrets.token_hex(3)}"


def list_versions(serving_dir: Path) -> list[tuple[str, str]]:
    """Complete versions as (built_at, name), oldest first."""
    out = []
    if not serving_dir.exists():
        return out
    for d in serving_dir.iterdir():
        meta = d / META
        if d.is_dir() and not d.name.startswith(".") and meta.exists():
            try:
                built_at = json.loads(meta.read_text(encoding="utf-8")).get("built_at", "")
            except (OSError, ValueError):
                continue
            out.append((built_at, d.name))
    return sorted(out)


def flip_current(serving_dir: Path, version: str) -> None:
    """Point CURRENT at ``version`` atomically (readers see the old or the new name, never a partial one)."""
    tmp = serving_dir / f"{TMP_PREFIX}{CURRENT}-{os.getpid()}"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, serving_dir / CURRENT)
    _fsync_dir(serving_dir)


def prune(serving_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` complete versions (never the current one) and any temp leftovers."""
    current = (
        (serving_dir / CURRENT).read_text(encoding="utf-8").strip()
        if (serving_dir / CURRENT).exists()
        else ""
    )
    versions = [name for _, name in list_versions(serving_dir)]
    keep_set = set(versions[-max(keep, 1) :]) | {current}
    removed = []
    for name in versions:
        if name not in keep_set:
            shutil.rmtree(serving_dir / name, ignore_errors=True)
            removed.append(name)
    for d in serving_dir.iterdir():
        if not d.name.startswith(TMP_PREFIX):
            continue
        if d.is_dir():  # a publish that was killed half-way (we are the only writer)
            shutil.rmtree(d, ignore_errors=True)
        else:
            d.unlink(missing_ok=True)
    return removed


def masked_manifest(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """landing.manifest as published: person names inside file names masked, the archive path left out."""
    from data_contracts.privacy_ops import mask_file_name

    df = conn.execute(MANIFEST_SQL).pl()
    return df.with_columns(pl.col("file_name").map_elements(mask_file_name, return_dtype=pl.String))


def publish_snapshot(
    conn: duckdb.DuckDBPyConnection,
    serving_dir: str | Path,
    keep: int = 5,
    extra_frames: dict[str, pl.DataFrame] | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> PublishResult:
    """Copy every published table into a new version directory, flip CURRENT, prune old versions."""
    serving_dir = Path(serving_dir)
    serving_dir.mkdir(parents=True, exist_ok=True)
    built = (now or datetime.now(UTC)).astimezone(UTC)
    version = new_version(built)
    tmp = serving_dir / f"{TMP_PREFIX}{version}"
    tmp.mkdir()
    tables: dict[str, int] = {}
    columns: dict[str, list[dict]] = {}
    if ("landing", "manifest") in _existing_tables(conn):
        extra_frames = {"landing.manifest": masked_manifest(conn), **(extra_frames or {})}
    for name, sql in tables_to_publish(conn).items():
        params = [QUARANTINE_SAMPLE_PER_REASON] if sql is QUARANTINE_SAMPLE_SQL else []
        tables[name] = _write_parquet(conn, sql, params, tmp / f"{name}.parquet")
        columns[name] = _column_docs(conn, name) if not name.startswith("quarantine.") else []
    for name, frame in (extra_frames or {}).items():
        frame.write_parquet(tmp / f"{name}.parquet", compression="zstd")
        tables[name] = frame.height
        columns[name] = [{"name": c, "type": str(t), "comment": None} for c, t in frame.schema.items()]
    as_of = data_as_of(conn)
    meta = {
        "version": version,
        "built_at": built.isoformat(),
        "data_as_of": as_of,
        "run_id": run_id,
        "tables": tables,
        "columns": columns,
    }
    with (tmp / META).open("w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False, indent=1, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(tmp)
    os.replace(tmp, serving_dir / version)
    _fsync_dir(serving_dir)
    flip_current(serving_dir, version)
    pruned = prune(serving_dir, keep)
    return PublishResult(
        version=version, path=serving_dir / version, tables=tables, data_as_of=as_of, pruned=pruned
    )
