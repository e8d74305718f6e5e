"""Load every pending file of the landing manifest into the ingest tables, quarantine what breaks the contract,
and reconcile each file (rows in = loaded + quarantined). Pure logic: no Dagster.

A file is pending while its manifest row has ``ingested_at IS NULL``. Files of one format and header are read as
one batch (one DuckDB scan) and written in one transaction; a file that cannot be read at all gets a file-level
quarantine row and never stops the others. Re-running is a no-op.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from data_contracts.contracts import mapping, mappings
from data_contracts.formats import BatchContext, Parsed, parse_batch
from data_contracts.privacy_ops import clear_key_cache, mask_file_name
from data_contracts.readers import FILE, FileUnreadable, SourceFile, read_header
from data_contracts.rules import QUARANTINE_SCHEMA
from xiaoshuju.settings import Settings
from xiaoshuju.warehouse import memory_limit, ram_share, scannable, transaction

log = logging.getLogger(__name__)

# reader problems that make the file as a whole untrustworthy: one file-level row, nothing of it loaded
FILE_LEVEL_CODES = ("bad_encoding", "truncated")
STATUS_CODES = {
    "unknown_format": "unknown_layout",
    "unknown": "unknown_layout",
    "empty": "empty_file",
    "binary": "binary_file",
    "unreadable": "bad_encoding",
}
INGEST_TABLES = (
    "orders",
    "order_lines",
    "id_keys",
    "id_edges",
    "nick_links",
    "seller_names",
    "messages",
    "groups",
    "group_events",
    "wecom_members",
    "referrals",
)
BATCH_BYTES = 256 * 1024 * 1024  # bound memory: a batch reads at most this much raw text
# The warehouse's DuckDB memory while loading: it only appends (caching the blocks it wrote), while the reader's
# DuckDB (data_contracts.readers), two batches of polars frames and the page cache need the rest. Each DuckDB
# defaults to 80 % of RAM: at L the ingest process reached 20.5 GB and DuckDB spilled to disk during the load; with
# both capped the L load stays ≤ 6.9 GB. The build, which runs alone, keeps the default (and uses ~20 GB at L).
LOAD_MEMORY_SHARE = 0.2
# Batches parsed ahead on worker threads while the main thread writes. A parse alone keeps ~1.55 of 2 cores busy
# (DuckDB's hand-over to Arrow, Python and some polars steps run on one thread), and parsing is ~3/4 of the load:
# with one worker the writer sat idle 38 of 60 s at M. Two workers: M load 57-61 → 49-50 s, the same CPU seconds,
# identical tables; one more batch in memory (M peak RSS 3.9 GB). The reader's DuckDB is shared, under a lock.
READ_AHEAD = 2


@dataclass
class FileResult:
    file_sha256: str
    file_name: str
    source_format: str | None
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    problem: str | None = None  # file-level problem words


@dataclass
class LoadReport:
    files: list[FileResult] = field(default_factory=list)
    # seconds per source format (read + parse + write)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_files(self) -> int:
        return len(self.files)

    @property
    def problems(self) -> list[FileResult]:
        return [f for f in self.files if f.problem]


def pending_files(conn: duckdb.DuckDBPyConnection) -> list[dict]:
    cur = conn.execute(
        "SELECT file_sha256, file_name, archived_path, detected_format, encoding, row_count, status, problem, "
        "size_bytes FROM landing.manifest WHERE ingested_at IS NULL ORDER BY first_seen_at, file_name"
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def physical_data_lines(path: Path) -> int:
    """Data lines of a file we could not parse (header excluded), for reconciliation."""
    try:
        with Path(path).open("rb") as fh:
            n, last = 0, b""
            while chunk := fh.read(8 * 1024 * 1024):
                n += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return 0
    if last and last != b"\n":
        n += 1
    return max(n - 1, 0)


@dataclass
class FileLevel:
    code: str
    words: str
    rows_in: int


def _status_problem(row: dict) -> FileLevel:
    name, status, enc = row["file_name"], row["status"], row["encoding"]
    code = STATUS_CODES.get(status, "unknown_layout")
    if status == "unreadable" and enc == "xlsx":
        code = "truncated"
    rows_in = 0 if code in ("empty_file", "binary_file") else physical_data_lines(row["archived_path"])
    words = f"{name}: {row['problem'] or status}"
    if code == "unknown_layout":
        words += "; see docs/data_contracts.md for the layouts we read"
    else:
        words += ". Nothing from this file was loaded."
    return FileLevel(code, words, rows_in)


def _exception_problem(row: dict, exc: Exception, rows_in: int | None = None) -> FileLevel:
    name = row["file_name"]
    if isinstance(exc, FileUnreadable):
        code, msg = exc.reason_code, exc.message
        words = msg if msg.startswith(name) else f"{name}: {msg}"
    else:
        code = "contract_violation"
        words = (
            f"{name}: could not be read as {row['detected_format']} ({type(exc).__name__}: {exc}); the file is "
            "kept in the archive — check that it is an unmodified export"
        )
    if rows_in is None:
        rows_in = 0 if code in ("empty_file", "binary_file") else physical_data_lines(row["archived_path"])
    return FileLevel(code, words, rows_in)


def _whole_file_problems(parsed: Parsed, names: dict[str, str]) -> dict[str, FileLevel]:
    """Bad bytes or a cut-off end: the file as a whole is not a trustworthy export."""
    q = parsed.quarantine
    out: dict[str, FileLevel] = {}
    if q.height == 0:
        return out
    fl = q.filter(pl.col("reason_code").is_in(FILE_LEVEL_CODES))
    for (sha,), part in fl.group_by(FILE, maintain_order=True):
        code = part["reason_code"][0]
        lines = sorted(part.filter(pl.col("reason_code") == code)["line_no"].drop_nulls().to_list())
        shown = ", ".join(str(x) for x in lines[:10]) + (" …" if len(lines) > 10 else "")
        what = {
            "bad_encoding": f"line {shown} holds bytes that are neither UTF-8 nor GB18030 text",
            "truncated": f"the file ends in the middle of a record (line {shown}): it was cut off while copying",
        }[code]
        out[sha] = FileLevel(
            code,
            f"{names[sha]}: {what}. Nothing from this file was loaded. Expected: a complete "
            "export saved as UTF-8 or GB18030 CSV; export it again and drop it into the inbox.",
            parsed.rows_in.get(sha, 0),
        )
    return out


def _insert(conn: duckdb.DuckDBPyConnection, table: str, df: pl.DataFrame) -> None:
    cols = [c[0] for c in conn.execute(f"DESCRIBE ingest.{table}").fetchall()]
    use = [c for c in df.columns if c in cols]
    conn.register("_df", scannable(df.select(use)))
    try:
        conn.execute(f"INSERT INTO ingest.{table} BY NAME SELECT * FROM _df")
    finally:
        conn.unregister("_df")


def write_batch(
    conn: duckdb.DuckDBPyConnection,
    rows: list[dict],
    fmt: str | None,
    parsed: Parsed | None,
    file_level: dict[str, FileLevel],
    now: datetime,
) -> list[FileResult]:
    """Write one batch in one transaction: ingest rows, quarantine, reconciliation, manifest."""
    # file names as stored and shown: a chat export is named after its group, and groups after their owner
    raw_names = {r["file_sha256"]: r["file_name"] for r in rows}
    names = {sha: mask_file_name(n) for sha, n in raw_names.items()}
    file_level = {
        sha: FileLevel(p.code, p.words.replace(raw_names[sha], names[sha]), p.rows_in)
        for sha, p in file_level.items()
    }
    parsed = parsed or Parsed()
    bad = list(file_level)
    q = parsed.quarantine.filter(~pl.col(FILE).is_in(bad)) if parsed.quarantine.height else parsed.quarantine
    fl_rows = [(sha, None, p.code, p.words, "", p.rows_in) for sha, p in file_level.items()]
    if fl_rows:
        q = pl.concat([q, pl.DataFrame(fl_rows, schema=QUARANTINE_SCHEMA, orient="row")])
    quarantined = dict(q.group_by(FILE).agg(pl.col("records").sum()).iter_rows()) if q.height else {}
    bounds = {r[0]: (r[1], r[2]) for r in parsed.bounds.iter_rows()} if parsed.bounds.height else {}
    results = []
    with transaction(conn):
        for t in INGEST_TABLES:
            df = parsed.tables.get(t)
            if df is not None and df.height:
                if bad:
                    df = df.filter(~pl.col("source_file_sha256").is_in(bad))
                if df.height:
                    _insert(conn, t, df)
        if q.height:
            qq = q.with_columns(
                pl.col(FILE).replace_strict(names, return_dtype=pl.String).alias("file_name"),
                pl.lit(fmt, pl.String).alias("source_format"),
                pl.lit(now).alias("quarantined_at"),
            ).rename({FILE: "file_sha256"})
            conn.register("_q", qq)
            conn.execute(
                "INSERT INTO quarantine.rows (file_sha256, file_name, source_format, line_no, reason_code, reason, "
                "preview_masked, quarantined_at, records) SELECT file_sha256, file_name, source_format, line_no, "
                "reason_code, reason, preview_masked, quarantined_at, records FROM _q"
            )
            conn.unregister("_q")
        recon, manifest = [], []
        for r in rows:
            sha = r["file_sha256"]
            if sha in file_level:
                rows_in = file_level[sha].rows_in
                lo = hi = None
            else:
                rows_in = parsed.rows_in.get(sha, 0)
                lo, hi = bounds.get(sha, (None, None))
            nq = int(quarantined.get(sha, 0))
            loaded = rows_in - nq
            recon.append((sha, names[sha], fmt, rows_in, loaded, nq, loaded >= 0, now))
            manifest.append((now, rows_in, lo, hi, sha))
            results.append(
                FileResult(
                    sha,
                    names[sha],
                    fmt,
                    rows_in,
                    loaded,
                    nq,
                    file_level[sha].words if sha in file_level else None,
                )
            )
        # set-based, not executemany: one statement per batch however many files it holds
        conn.register(
            "_rec",
            pl.DataFrame(
                recon,
                schema={
                    "file_sha256": pl.String,
                    "file_name": pl.String,
                    "source_format": pl.String,
                    "rows_in": pl.Int64,
                    "rows_loaded": pl.Int64,
                    "rows_quarantined": pl.Int64,
                    "reconciled": pl.Boolean,
                    "checked_at": pl.Datetime("us", "UTC"),
                },
                orient="row",
            ),
        )
        conn.execute("INSERT OR REPLACE INTO ops.reconciliation SELECT * FROM _rec")
        conn.unregister("_rec")
        conn.register(
            "_man",
            pl.DataFrame(
                manifest,
                schema={
                    "ingested_at": pl.Datetime("us", "UTC"),
                    "row_count": pl.Int64,
                    "first_ts": pl.Datetime("us", "UTC"),
                    "last_ts": pl.Datetime("us", "UTC"),
                    "sha": pl.String,
                },
                orient="row",
            ),
        )
        conn.execute(
            "UPDATE landing.manifest SET ingested_at = _man.ingested_at, row_count = _man.row_count, "
            "first_ts = _man.first_ts, last_ts = _man.last_ts FROM _man WHERE landing.manifest.file_sha256 = _man.sha"
        )
        conn.unregister("_man")
    return results


def _source(r: dict) -> SourceFile:
    return SourceFile(r["file_sha256"], r["file_name"], Path(r["archived_path"]), r["encoding"])


def plan_batches(rows: list[dict]) -> tuple[list[dict], list[tuple[str, list[dict]]]]:
    """Split pending rows into unreadable ones and batches of (format, same header, bounded bytes)."""
    unreadable, groups = [], {}
    for r in rows:
        fmt = r["detected_format"]
        if r["status"] != "registered" or fmt not in mappings():
            unreadable.append(r)
            continue
        m = mapping(fmt)
        if m.kind in ("csv",) and r["encoding"] != "xlsx":
            try:
                sig = ("csv", tuple(read_header(Path(r["archived_path"]), r["encoding"])))
            except OSError:
                unreadable.append(r)
                continue
        else:
            sig = (r["encoding"] if r["encoding"] == "xlsx" else m.kind, ())
        groups.setdefault((fmt, sig), []).append(r)
    batches = []
    for (fmt, _sig), rs in groups.items():
        cur, size = [], 0
        for r in rs:
            if cur and size + (r["size_bytes"] or 0) > BATCH_BYTES:
                batches.append((fmt, cur))
                cur, size = [], 0
            cur.append(r)
            size += r["size_bytes"] or 0
        if cur:
            batches.append((fmt, cur))
    return unreadable, batches


def _parse(fmt: str, rs: list[dict], settings: Settings) -> tuple[Parsed | None, dict[str, FileLevel]]:
    ctx = BatchContext(fmt, [_source(r) for r in rs], settings.source_timezone(fmt), settings.hmac_key)
    parsed, failed = parse_batch(ctx)
    by_sha = {r["file_sha256"]: r for r in rs}
    file_level = {
        sha: _exception_problem(by_sha[sha], exc, 0 if exc.reason_code == "empty_file" else None)
        for sha, exc in failed.items()
    }
    file_level.update(_whole_file_problems(parsed, {r["file_sha256"]: r["file_name"] for r in rs}))
    compact_identity_rows(parsed, set(file_level))
    cluster_messages_by_group(parsed)
    return parsed, file_level


def cluster_messages_by_group(parsed: Parsed) -> None:
    """A batch's messages grouped by group (in place; within a group they keep their file and line order). An
    archive export interleaves all groups' messages by time, so a row group of ~120 k rows held thousands of groups
    and tens of thousands of senders, and DuckDB compressed every string column of it against a large dictionary —
    both when the load writes ``ingest.messages`` and when the build writes ``staging.messages``, whose rows follow
    the ingest order. At L (51 M messages, rows clustered within 2 M-row stretches as a batch does): writing the
    ingest table 35-36 → 28-29 s, the staging table 39 → 33-34 s, for a sort of ~0.2 s per batch (by the group
    key's 64-bit hash: a sort by the string itself took 1.5 s)."""
    msgs = parsed.tables.get("messages")
    if msgs is not None and msgs.height > 1:
        parsed.tables["messages"] = msgs.sort(pl.col("group_key").hash(), maintain_order=True)


# id_keys columns that make one row of a batch (a key with one masked name); the others are folded as build.sql's
# ident folds them (min / max / bool_or), so the staging tables are the same as from one row per (key, file)
_KEY_GROUP = ["key", "id_type", "source_format", "confidence", "name_masked"]


def compact_identity_rows(parsed: Parsed, bad: set[str]) -> None:
    """One ``ingest.id_keys`` row per key and masked name, one ``ingest.id_edges`` row per pair, for the whole
    batch instead of per file (in place). The readers emit them per file, and people recur in every file of a batch:
    at L a batch of WeCom archive files held 0.7 M key rows for 46 k distinct keys and 191 k edges for 3 k pairs —
    57 M key rows and 13 M edges in all, more rows than the messages, written in the load and aggregated again in
    the build. Rows of files rejected as a whole (``bad``) are dropped first, as write_batch would drop them."""
    keys = parsed.tables.get("id_keys")
    if keys is not None and keys.height:
        keys = keys.filter(~pl.col("source_file_sha256").is_in(list(bad))) if bad else keys
        aggs = {
            "seen_at": pl.col("seen_at").min(),
            "phone_masked": pl.col("phone_masked").max(),
            "is_staff": pl.col("is_staff").any(),
            "customer_since": pl.col("customer_since").min(),
            "source_file_sha256": pl.col("source_file_sha256").min(),
        }
        parsed.tables["id_keys"] = keys.group_by(_KEY_GROUP).agg(
            *[e.alias(c) for c, e in aggs.items() if c in keys.columns],
            pl.len().cast(pl.Int64).alias("n_files"),
        )
    edges = parsed.tables.get("id_edges")
    if edges is not None and edges.height:
        edges = edges.filter(~pl.col("source_file_sha256").is_in(list(bad))) if bad else edges
        parsed.tables["id_edges"] = edges.group_by("key_a", "key_b", "source_format").agg(
            pl.col("source_file_sha256").min()
        )


def load_pending(
    conn: duckdb.DuckDBPyConnection, settings: Settings, now: datetime | None = None
) -> LoadReport:
    """Load every pending file. The next ``READ_AHEAD`` batches are read and checked on worker threads while the
    current one is written (reading touches only the archived files, never the warehouse; DuckDB and polars release
    the GIL), so the cores a write or a parse leaves idle do the next batches. Writes stay in plan order, one
    transaction per batch."""
    now = now or datetime.now(UTC)
    pending = pending_files(conn)
    if not pending:
        # nothing to do: leave the memory limit alone (lowering it makes DuckDB evict what it holds — after a build
        # at L that was 7 s of writing temporary blocks out for a no-op run)
        return LoadReport()
    # the installation secret is read (or created) here, once, before any batch: a missing or empty secret stops
    # the load with its own error instead of failing every batch on the reader threads — which would quarantine
    # every file as unreadable and mark it ingested
    _ = settings.hmac_key
    try:
        with memory_limit(conn, ram_share(LOAD_MEMORY_SHARE)):
            return _load_pending(conn, settings, now, pending)
    finally:
        clear_key_cache()  # raw identifiers stay in memory no longer than the load


def _load_pending(
    conn: duckdb.DuckDBPyConnection, settings: Settings, now: datetime, pending: list[dict]
) -> LoadReport:
    report = LoadReport()
    unreadable, batches = plan_batches(pending)
    for r in unreadable:
        fmt = r["detected_format"] if r["detected_format"] in mappings() else None
        report.files += write_batch(conn, [r], fmt, None, {r["file_sha256"]: _status_problem(r)}, now)
    with ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="xsj-read") as pool:
        ahead = [pool.submit(_read_ahead, *b, settings) for b in batches[:READ_AHEAD]]
        for i, (fmt, rs) in enumerate(batches):
            current = ahead.pop(0)
            if i + READ_AHEAD < len(batches):
                ahead.append(pool.submit(_read_ahead, *batches[i + READ_AHEAD], settings))
            result, read_seconds = current.result()
            t0 = time.perf_counter()
            try:
                _load_batch(conn, settings, report, fmt, rs, now, result)
            finally:
                # seconds per format: its read (on the worker) + its write
                report.timings[fmt] = report.timings.get(fmt, 0.0) + read_seconds + time.perf_counter() - t0
    return report


def _read_ahead(fmt: str, rs: list[dict], settings: Settings):
    """Parse a batch on the worker; an exception is returned, not raised, and handled by ``_load_batch``."""
    t0 = time.perf_counter()
    try:
        out = _parse(fmt, rs, settings)
    except Exception as exc:  # noqa: BLE001 - handled (and logged) by _load_batch on the main thread
        out = exc
    return out, time.perf_counter() - t0


def _load_batch(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    report: LoadReport,
    fmt: str,
    rs: list[dict],
    now,
    result: tuple[Parsed | None, dict[str, FileLevel]] | Exception,
) -> None:
    """One batch of one format, as ``_read_ahead`` parsed it (or the exception it raised); if it fails as a whole,
    file by file so one broken file cannot stop the others."""
    try:
        if isinstance(result, Exception):
            raise result
        parsed, file_level = result
        report.files += write_batch(conn, rs, fmt, parsed, file_level, now)
        return
    except FileUnreadable as exc:
        if len(rs) == 1:
            report.files += write_batch(
                conn, rs, fmt, None, {rs[0]["file_sha256"]: _exception_problem(rs[0], exc)}, now
            )
            return
    except Exception:  # noqa: BLE001 - isolate the broken file below
        log.exception("batch of %d %s files failed; retrying file by file", len(rs), fmt)
    for r in rs:
        try:
            parsed, file_level = _parse(fmt, [r], settings)
            report.files += write_batch(conn, [r], fmt, parsed, file_level, now)
        except Exception as exc:  # noqa: BLE001
            if not isinstance(exc, FileUnreadable):
                log.exception("reading %s failed", r["file_name"])
            report.files += write_batch(
                conn, [r], fmt, None, {r["file_sha256"]: _exception_problem(r, exc)}, now
            )
