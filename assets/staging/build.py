"""Rebuild the canonical staging tables from the ingest records: identity resolution, latest-export-wins orders,
memberships from system notices and WeCom snapshots, messages with first responses, referrals. Pure logic."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from assets.staging.identity import resolve
from xiaoshuju.warehouse import (
    EVENT_COLUMNS,
    SCHEMA_SQL,
    keep_block_memory,
    ram_share,
    scannable,
    transaction,
)

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


# freed DuckDB buffer blocks the build keeps for reuse instead of faulting new pages in (warehouse.keep_block_memory;
# the L build holds ~20 GB at its peak)
BUILD_BLOCK_MEMORY_SHARE = 0.65
# messages per pass (a bucket of groups): bounds memory at L (50 M messages). Each pass scans msg2's group column
# once, so fewer, larger buckets cost less: at L 13 buckets of 4 M took 13.5-16.5 s, 4 of 16 M 12.7-13.4 s
FIRST_RESPONSE_CHUNK_ROWS = 16_000_000


def first_responses(conn: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``first_resp(rid, nx)``: for each question that is speech (``rid`` = its row of temp table msg2),
    the time of the first later message in its group (order sent_at, message_id) by someone other than the asker —
    the start of the next run of speech. One sort of the speech rows; a backward fill finds the next run start (no
    framed window in SQL, which was the slowest statement of the build). Groups are processed in hash buckets of
    about ``FIRST_RESPONSE_CHUNK_ROWS`` messages so memory stays bounded however long the history.

    Only integers leave DuckDB: the row, the group and the sender as the integers their ids spell (msg2.group_no,
    sender_no: equal exactly when the ids are), the time. Fetching the three id strings of millions of rows and
    sorting by them cost more than all the rest (M: 2.2 s of fetch, 1.5 s of sort per 5 M messages; now 0.3 s and
    0.5 s). DuckDB's hash() is no substitute: two of the 5 M message ids at M share one. The message_id, which
    orders same-second messages of a group, is fetched only for those few rows."""
    conn.execute("CREATE OR REPLACE TEMP TABLE first_resp (rid BIGINT, nx TIMESTAMPTZ)")
    n = conn.execute("SELECT count(*) FROM msg2").fetchone()[0]
    buckets = max(1, -(-n // FIRST_RESPONSE_CHUNK_ROWS))
    for b in range(buckets):
        # the bucket numbers are our own integers, inlined: as bound parameters the scan is 5× slower. Filtering on
        # the group's number reads that one column for every row, the others only for the bucket's rows (group_no is
        # md5 bits: uniform over the buckets)
        # in group order, sorted by DuckDB (in parallel: two stable polars sorts of 16 M rows took 5-8 s of the step,
        # one polars sort by both columns 13-14 s); same-second rows are put in message_id order below
        speech = conn.execute(
            "SELECT rowid AS rid, group_no AS g, sender_no AS s, sent_at, is_question FROM msg2 "
            f"WHERE group_no % {int(buckets)} = {int(b)} "
            "AND sender_no IS NOT NULL AND kind NOT IN ('system', 'recall') ORDER BY g, sent_at"
        ).pl()
        speech = _same_second_by_message_id(conn, speech)
        fr = _next_run_starts(speech)
        del speech
        conn.register("_fr", scannable(fr))
        try:
            conn.execute("INSERT INTO first_resp SELECT * FROM _fr")
        finally:
            conn.unregister("_fr")


_NO_NEXT = -(2**63)  # "no later run in this group": stops the backward fill at the end of each group


def _next_run_starts(speech: pl.DataFrame) -> pl.DataFrame:
    """``(rid, nx)`` for the questions among ``speech`` (rows in group order): ``nx`` is the start of the next run
    of speech after the question's own run in its group. The rows are sorted by group, so a group's runs are
    contiguous and no per-group window is needed: each row takes the next row's time when that row starts a run
    of the same group, a group's last row a sentinel, and a backward fill carries the next run start to the rows of
    the run before it without crossing into the next group (the same result as shift and backward fill per group,
    which grouped the 50 M rows of L twice)."""
    g, who, t = pl.col("g"), pl.col("s"), pl.col("sent_at").to_physical()
    first_of_run = g.shift(1).is_null() | (g != g.shift(1)) | (who != who.shift(1))
    next_same_group = (g.shift(-1) == g).fill_null(False)
    nxt = (
        pl.when(next_same_group)
        .then(pl.when(first_of_run).then(t).shift(-1))
        .otherwise(pl.lit(_NO_NEXT, pl.Int64))
        .backward_fill()
    )
    return (
        speech.lazy()
        .select("rid", "is_question", nxt.alias("nx"))
        .filter(pl.col("is_question") & (pl.col("nx") != _NO_NEXT) & pl.col("nx").is_not_null())
        .select("rid", pl.col("nx").cast(speech.schema["sent_at"]))
        .collect()
    )


def _same_second_by_message_id(conn: duckdb.DuckDBPyConnection, speech: pl.DataFrame) -> pl.DataFrame:
    """Rows sorted by (group, time): order each run of equal (group, time) by message_id. The runs are contiguous,
    so the tied rows, sorted by (group, time, message_id), go back into the positions they held."""
    same = (
        (pl.col("g") == pl.col("g").shift(1)) & (pl.col("sent_at") == pl.col("sent_at").shift(1))
    ).fill_null(False)
    ties = speech.with_row_index("_pos").filter(same | same.shift(-1).fill_null(False))
    if ties.height == 0:
        return speech
    conn.register("_ties", scannable(ties.select("rid")))
    try:
        ids = conn.execute(
            "SELECT m.rowid AS rid, m.message_id FROM msg2 m JOIN _ties t ON t.rid = m.rowid"
        ).pl()
    finally:
        conn.unregister("_ties")
    order = ties.join(ids, on="rid").sort("g", "sent_at", "message_id")["_pos"].to_numpy()
    perm = np.arange(speech.height)
    perm[np.sort(order)] = order
    return speech[perm]


PY_STEPS = {"first_responses": first_responses}


def _run(conn: duckdb.DuckDBPyConnection, stmt: str) -> None:
    t = time.perf_counter()
    conn.execute(stmt)
    if TIMINGS:
        TIMINGS.append((time.perf_counter() - t, stmt.strip().splitlines()[-1][:80]))


# a statement that writes a persistent table: run inside the rebuild's transaction (everything else builds
# connection-local temp tables and runs before it)
PERSISTENT_WRITE = re.compile(r"\s*INSERT INTO (staging|ops)\.")


def _writes_persistent(stmt: str) -> bool:
    code = "\n".join(line for line in stmt.splitlines() if not line.strip().startswith("--"))
    if PERSISTENT_WRITE.match(code):
        return True
    if re.search(r"\b(staging|ops)\.", code):
        # it would run before the writes and read the previous build's rows
        raise ValueError(f"build.sql: a temp-table statement reads a staging/ops table: {code.strip()[:120]}")
    return False


def rebuild_staging(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Recompute every staging table; returns row counts. build.sql runs statement by statement; a line
    ``-- @@ name`` runs the Python step ``PY_STEPS[name]`` at that point.

    Two phases: identity resolution and every temp table (connection-local, invisible to anyone else) first, then
    the writes into staging (and ops) tables in one transaction, so a failure anywhere leaves the previous staging
    tables as they were. Temp tables are built outside the transaction on purpose: DuckDB scans a temp table created
    inside the still-open transaction at about half speed (its rows sit in transaction-local storage), which made
    writing 5 M staging messages from one take 8.7 s instead of 4.4 s at M."""
    conn.execute("SET enable_progress_bar = false")
    keep_block_memory(conn, ram_share(BUILD_BLOCK_MEMORY_SHARE))
    parts = re.split(r"^-- @@ (\w+)\s*$", BUILD_SQL.read_text(encoding="utf-8"), flags=re.M)
    existing = set(conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())
    tracked = [(t, c) for t, c in CHANGE_TRACKED if ("staging", t) in existing]
    for t, _ in tracked:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _prev_{t} AS SELECT * FROM staging.{t}")
    resolve(conn)
    writes: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            t0 = time.perf_counter()
            PY_STEPS[part](conn)
            if TIMINGS:
                TIMINGS.append((time.perf_counter() - t0, f"python step {part}"))
            continue
        for stmt in _statements(part):
            if _writes_persistent(stmt):
                writes.append(stmt)
            else:
                _run(conn, stmt)
    with transaction(conn):
        for t in (*STAGING_TABLES, "ops.identity_match_rate"):
            recreate(conn, t if "." in t else f"staging.{t}")
        for stmt in writes:
            _run(conn, stmt)
        _record_changes(conn, tracked)
    return {t: conn.execute(f"SELECT count(*) FROM staging.{t}").fetchone()[0] for t in STAGING_TABLES}


# Rows a rebuild can change although no new file carries them: identity resolution is global, so a later file can
# re-resolve an old join notice's nickname or merge two members, and old memberships, referrals or orders move to
# another member_id. The earliest event among rows that differ from the previous build (either way) tells the
# incremental publish range how far back to go (pipelines.increments). Messages are left out: their senders are
# hashed ids (wxid, WeCom ids), which never re-resolve, and comparing millions of rows would cost seconds per run.
CHANGE_TRACKED = tuple((t, c) for t, c in EVENT_COLUMNS if t != "messages")


def _record_changes(conn: duckdb.DuckDBPyConnection, tracked: list[tuple[str, str]]) -> None:
    """Temp table ``staging_rebuild_changes(first_changed_at)``: the earliest event time among the tracked tables'
    rows that the rebuild added, removed or altered (NULL when none; NULL too when the staging tables did not exist
    before this build)."""
    # a table that was empty before (the first build): every row is new, and its earliest event is a plain min() —
    # the two-way EXCEPT ALL would hash every row to find that (1.3 s of an M build)
    was_empty = {t for t, _ in tracked if conn.execute(f"SELECT count(*) = 0 FROM _prev_{t}").fetchone()[0]}
    parts = [
        f"SELECT min({c}) AS ts FROM staging.{t}"
        if t in was_empty
        else f"SELECT min({c}) AS ts FROM ((SELECT * FROM staging.{t} EXCEPT ALL SELECT * FROM _prev_{t}) "
        f"UNION ALL (SELECT * FROM _prev_{t} EXCEPT ALL SELECT * FROM staging.{t}))"
        for t, c in tracked
    ]
    sql = " UNION ALL ".join(parts) or "SELECT NULL::TIMESTAMPTZ AS ts"
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE staging_rebuild_changes AS SELECT min(ts) AS first_changed_at FROM ({sql})"
    )
    for t, _ in tracked:
        conn.execute(f"DROP TABLE IF EXISTS _prev_{t}")
