"""Read archived exports into one frame of text columns per batch of same-layout files, one row per data record,
with the file (``_file`` = its sha256) and the record's physical line number (``_line``, header = 1).

Nothing here interprets values: readers only split records. Records the reader cannot split (wrong column count,
bytes that are not valid text, a record cut off at the end of the file) come back as ``rejects`` with a reason
code, so every record of every file is either in ``frame`` or in ``rejects``.

CSV goes through DuckDB's C++ reader — many files in one scan, all columns VARCHAR, columns by position so
duplicate header names stay apart — xlsx through calamine, JSON lines through DuckDB as one text column per line.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import mmap
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from xiaoshuju.warehouse import ram_share

LINE = "_line"
FILE = "_file"
REJECT_SCHEMA = {
    FILE: pl.String,
    LINE: pl.Int64,
    "reason_code": pl.String,
    "reason": pl.String,
    "preview": pl.String,
}


class FileUnreadable(Exception):
    """The whole file cannot be read; ``reason_code`` is one of the file-level quarantine codes."""

    def __init__(self, reason_code: str, message: str):
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


@dataclass(frozen=True)
class SourceFile:
    sha: str
    name: str  # as dropped, relative to the inbox
    path: Path  # archived original
    encoding: str | None


@dataclass
class RawRead:
    frame: (
        pl.DataFrame
    )  # text columns named by header (duplicates as ``name#2``), plus ``_file`` and ``_line``
    header: list[str]
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECT_SCHEMA))
    files: list[str] = field(default_factory=list)
    # a narrow read (read_csv_batch with ``keep``) holds only the columns the mapping uses; the whole record of a
    # row that goes to quarantine is then read back from its file for the preview (record_text)
    narrow: NarrowSource | None = None

    @property
    def names(self) -> list[str]:
        """Every column of the layout (``frame`` may hold fewer: see ``narrow``)."""
        if self.narrow is not None:
            return self.narrow.names
        return [c for c in self.frame.columns if c not in (LINE, FILE)]

    def record_text(self, keys: pl.DataFrame) -> pl.DataFrame:
        """``(_file, _line, _p)``: each record of ``keys`` (``_file``, ``_line``) as its fields joined by commas."""
        if self.narrow is None:
            return joined_fields(self.frame.join(keys.select(FILE, LINE), on=[FILE, LINE], how="semi"))
        return self.narrow.record_text(keys)

    def rows_in(self) -> dict[str, int]:
        out = dict.fromkeys(self.files, 0)
        for df in (self.frame, self.rejects):
            if df.height:
                for sha, n in df.group_by(FILE).len().iter_rows():
                    out[sha] = out.get(sha, 0) + n
        return out


def unique_names(header: list[str]) -> list[str]:
    """Duplicate header names are told apart by position: the second ``分销员`` becomes ``分销员#2``."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        h = h.strip().lstrip("\ufeff").strip() or f"_col{i + 1}"
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h}#{seen[h]}")
    return out


def joined_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """``(_file, _line, _p)``: every text column of ``frame`` joined by commas (nulls as empty)."""
    names = [c for c in frame.columns if c not in (LINE, FILE)]
    return frame.select(
        pl.col(FILE),
        pl.col(LINE),
        pl.concat_str([pl.col(n).fill_null("") for n in names], separator=",").alias("_p"),
    )


TEXT_SCHEMA = {FILE: pl.String, LINE: pl.Int64, "_p": pl.String}


@dataclass
class NarrowSource:
    """What a narrow CSV read needs to give back whole records: the layout's names, the files read narrow (their
    records are one physical line each: read back from the file by line number) and the whole rows of the files
    read wide (see read_csv_batch)."""

    names: list[str]
    files: dict[str, tuple[Path, str | None]]  # sha -> (path, encoding) of files read narrow
    delim: str
    wide: pl.DataFrame  # every column, for the rows of files read wide

    def record_text(self, keys: pl.DataFrame) -> pl.DataFrame:
        keys = keys.select(FILE, LINE)
        parts = [joined_fields(self.wide.join(keys, on=[FILE, LINE], how="semi"))] if self.wide.height else []
        rows = []
        mine = keys.filter(pl.col(FILE).is_in(list(self.files)))
        for sha, lines in mine.group_by(FILE).agg(LINE).iter_rows():
            path, enc = self.files[sha]
            enc = "gb18030" if (enc or "").lower().startswith("gb") else "utf-8"
            physical = Path(path).read_bytes().split(b"\n")
            for ln in lines:
                text = physical[ln - 1].decode(enc, errors="replace") if 0 < ln <= len(physical) else ""
                try:
                    text = ",".join(next(csv.reader([text], delimiter=self.delim), []))
                except csv.Error:
                    pass  # previewed as it stands
                rows.append((sha, ln, text))
        parts.append(pl.DataFrame(rows, schema=TEXT_SCHEMA, orient="row"))
        return pl.concat(parts)


READER_MEMORY_SHARE = 0.2
_CONN_LOCK = threading.Lock()
_CONN: list[duckdb.DuckDBPyConnection] = []


def _reader() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB for reading (opening a connection per file costs more than reading a small file)."""
    if not _CONN:
        # its own share of memory (DuckDB defaults to 80 % of RAM per database, and the warehouse is open beside it);
        # a scan that needs more spills to the system temp directory
        _CONN.append(
            duckdb.connect(
                config={
                    "memory_limit": ram_share(READER_MEMORY_SHARE),
                    "temp_directory": str(Path(tempfile.gettempdir()) / f"xiaoshuju-reader-{os.getpid()}"),
                }
            )
        )
    conn = _CONN[0]
    conn.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
    return conn


def fetch_pl(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run a query into a temp table, then hand that to polars. DuckDB materialises a table on every core, while a
    query streamed straight into Arrow runs on one thread: 3–5× slower on millions of rows (JSON, CSV scans)."""
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _fetch AS {sql}", params)
    try:
        return conn.execute("SELECT * FROM _fetch").pl()
    finally:
        conn.execute("DROP TABLE IF EXISTS _fetch")


def _rejects(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """DuckDB creates the reject tables only when a scan rejected something. One row per rejected record."""
    try:
        return conn.execute(
            "SELECT s.file_path, e.line, arg_min(e.error_type, e.column_idx) AS error_type, "
            "any_value(e.csv_line) AS csv_line, any_value(e.error_message) AS msg "
            "FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) GROUP BY ALL ORDER BY 1, 2"
        ).pl()
    except duckdb.CatalogException:
        return pl.DataFrame(
            schema={
                "file_path": pl.String,
                "line": pl.Int64,
                "error_type": pl.String,
                "csv_line": pl.String,
                "msg": pl.String,
            }
        )


def transcode_to_utf8(path: Path, encoding: str) -> Path:
    """GB18030 (Excel re-saves) → a temporary UTF-8 copy DuckDB can scan. Undecodable bytes become U+FFFD and are
    reported as bad_encoding records."""
    return _transcode(path, encoding)[0]


def _transcode(path: Path, encoding: str) -> tuple[Path, bool]:
    """:func:`transcode_to_utf8`, and whether the copy holds a U+FFFD (an undecodable byte, or one in the text)."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="xsj_transcode_")
    dec = codecs.getincrementaldecoder(encoding)(errors="replace")
    fffd = False
    with os.fdopen(fd, "wb") as out, path.open("rb") as src:
        while chunk := src.read(8 * 1024 * 1024):
            text = dec.decode(chunk)
            fffd = fffd or "\ufffd" in text
            out.write(text.encode("utf-8"))
        text = dec.decode(b"", final=True)
        out.write(text.encode("utf-8"))
    return Path(tmp), fffd or "\ufffd" in text


def read_header(path: Path, encoding: str | None) -> list[str]:
    enc = "gb18030" if (encoding or "").lower().startswith("gb") else "utf-8"
    with Path(path).open("rb") as fh:
        first = fh.readline(1024 * 1024)
    text = first.decode(enc, errors="replace").lstrip("\ufeff")
    return next(csv.reader(io.StringIO(text)), [])


def _physical_lines(extra: np.ndarray, reject_lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Physical line numbers (header = 1) of one file's good rows and rejected records.

    DuckDB numbers rejected records by record (header = 1); good rows come back in file order. A quoted field with
    embedded newlines makes a record span several physical lines, so we add the extra newlines of earlier records.
    """
    g = len(extra)
    r_sorted = np.sort(reject_lines.astype(np.int64))
    keys = r_sorted - np.arange(len(r_sorted)) - 2
    before = np.searchsorted(keys, np.arange(g), side="right")
    good_rec = np.arange(g) + 2 + before
    if not extra.any():
        return good_rec, r_sorted
    rec = np.concatenate([good_rec, r_sorted])
    ext = np.concatenate([extra.astype(np.int64), np.zeros(len(r_sorted), dtype=np.int64)])
    order = np.argsort(rec, kind="stable")
    cum = np.zeros(len(rec), dtype=np.int64)
    cum[order] = np.concatenate([[0], np.cumsum(ext[order])[:-1]])
    phys = rec + cum
    return phys[:g], phys[g:]


_ERROR_CODES = {
    "INVALID ENCODING": ("bad_encoding", "bytes that are not valid text in the file's encoding"),
    "INVALID UNICODE": ("bad_encoding", "bytes that are not valid text in the file's encoding"),
    "MISSING COLUMNS": ("broken_row", "{found}; expected {n} columns like the header"),
    "TOO MANY COLUMNS": ("broken_row", "{found}; expected {n} columns like the header"),
    "UNQUOTED VALUE": ("broken_row", "a quote is not closed"),
    "LINE SIZE OVER MAXIMUM": ("broken_row", "the line is too long to be a record"),
}


def ends_with_newline(path: Path) -> bool:
    with Path(path).open("rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return True
        fh.seek(size - 1)
        return fh.read(1) == b"\n"


TRUNCATED_WORDS = "the file ends in the middle of this record (cut off while copying?); export the file again"


def _sha_of_index(col: str, scan: dict[str, str]) -> pl.Expr:
    """DuckDB's ``file_index`` (position in the scanned path list) → the file's sha256."""
    return pl.col(col).replace_strict(dict(enumerate(scan.values())), return_dtype=pl.String).alias(FILE)


def read_csv_batch(
    files: list[SourceFile], *, delim: str = ",", keep: Callable[[list[str]], set[str]] | None = None
) -> RawRead:
    """Read CSV files that share one header in a single DuckDB scan.

    ``keep`` (the layout's column names → the names the caller uses) makes the read narrow: DuckDB still splits
    every field but hands over only those columns (at M half the scan's CPU and two thirds of the hand-over for
    the 60-column 有赞 order export, of which the mapping uses 24). What the other columns served is found
    otherwise: a file's records are one physical line each when its line breaks number its records (header, rows
    and rejected records), so the line numbers need no count of the line breaks inside fields; a record's full
    text for a quarantine preview is read back from its line. A file that is not valid UTF-8 (after a GB18030
    transcode: holds a U+FFFD), does not end with a line break, or fails that count is read whole (the defective
    ones; DuckDB 1.5.5 also fails an internal assertion reporting an invalid byte in a narrow scan)."""
    header = read_header(files[0].path, files[0].encoding)
    if not header:
        raise FileUnreadable("empty_file", "the file has no header line")
    names = unique_names(header)
    wanted = keep(names) if keep is not None else None
    want = None if wanted is None or len(wanted) >= len(names) else [n for n in names if n in wanted]
    paths: dict[str, Path] = {}  # sha -> the path scanned
    tmps: list[Path] = []
    newlines: dict[str, int] = {}  # sha -> line breaks, for the files that can be read narrow
    narrow: set[str] = set()
    try:
        for f in files:
            if (f.encoding or "").lower().startswith("gb"):
                p, bad = _transcode(f.path, "gb18030")
                tmps.append(p)
                paths[f.sha] = p
                if want is not None and not bad:
                    data = p.read_bytes()
                    if data.endswith(b"\n"):
                        newlines[f.sha] = data.count(b"\n")  # 0x0A is never inside a GB18030 character
            else:
                paths[f.sha] = Path(f.path)
                if want is not None:
                    data = Path(f.path).read_bytes()
                    if data.endswith(b"\n") and _valid_utf8(data):
                        newlines[f.sha] = data.count(b"\n")
        if want is None or not newlines:
            return _read_csv(files, paths, header, names, delim, None)[0]
        raw, records = _read_csv([f for f in files if f.sha in newlines], paths, header, names, delim, want)
        narrow = {sha for sha, n in records.items() if newlines[sha] == n}
        wide_files = [f for f in files if f.sha not in narrow]
        if wide_files:
            wide = _read_csv(wide_files, paths, header, names, delim, None)[0]
            kept = raw.frame.filter(pl.col(FILE).is_in(list(narrow)))
            parts = {sha: g for (sha,), g in kept.group_by(FILE)}
            parts.update({sha: g for (sha,), g in wide.frame.select(*want, FILE, LINE).group_by(FILE)})
            frame = pl.concat([parts[f.sha] for f in files if f.sha in parts]) if parts else raw.frame.clear()
            rejects = pl.concat([raw.rejects.filter(pl.col(FILE).is_in(list(narrow))), wide.rejects])
            wide_rows = wide.frame
        else:
            frame, rejects, wide_rows = raw.frame, raw.rejects, raw.frame.clear()
    finally:
        for p in tmps:
            p.unlink(missing_ok=True)
    narrow_paths = {f.sha: (f.path, f.encoding) for f in files if f.sha in narrow}
    source = NarrowSource(names, narrow_paths, delim, wide_rows)
    return RawRead(frame, header, rejects, [f.sha for f in files], source)


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _read_csv(
    files: list[SourceFile],
    paths: dict[str, Path],
    header: list[str],
    names: list[str],
    delim: str,
    want: list[str] | None,
) -> tuple[RawRead, dict[str, int]]:
    """One DuckDB scan of ``files`` (at ``paths``: UTF-8): every column, or only ``want``. With ``want``, also the
    records each file holds, the header included (read_csv_batch compares them with its line breaks); the
    checks that need every column (line breaks inside fields, U+FFFD, a cut-off last record) are left out."""
    scan = {str(paths[f.sha]): f.sha for f in files}  # scanned path -> sha
    pick = "*" if want is None else ", ".join(f"c{names.index(n)}" for n in want)
    with _CONN_LOCK:
        conn = _reader()
        cols = {f"c{i}": "VARCHAR" for i in range(len(names))}
        # the file as its position in the list (DuckDB's file_index), not its path repeated on every row
        frame = fetch_pl(
            conn,
            f"SELECT {pick}, file_index::INTEGER AS _fi FROM read_csv(?, header=false, skip=1, columns=?, "
            "auto_detect=false, delim=?, quote='\"', escape='\"', ignore_errors=true, store_rejects=true, "
            "strict_mode=true, null_padding=false, max_line_size=8388608)",
            [list(scan), cols, delim],
        )
        rej = _rejects(conn)
    frame = frame.rename({f"c{names.index(n)}": n for n in (names if want is None else want)})
    file_idx = frame["_fi"].to_numpy() if frame.height else np.zeros(0, dtype=np.int32)
    frame = frame.with_columns(_sha_of_index("_fi", scan)).drop("_fi")
    rej = rej.with_columns(
        pl.col("file_path").replace_strict(scan, default=None, return_dtype=pl.String).alias(FILE)
    )
    if want is None:
        extra_all = (
            frame.select(
                pl.sum_horizontal(
                    [pl.col(n).str.count_matches("\n", literal=True).fill_null(0) for n in names]
                )
            )
            .to_series()
            .to_numpy()
            if frame.height
            else np.zeros(0, dtype=np.int64)
        )
    else:
        extra_all = np.zeros(frame.height, dtype=np.int64)
    lines = np.zeros(frame.height, dtype=np.int64)
    rej_lines_out = np.zeros(rej.height, dtype=np.int64)
    rej_file = rej[FILE].to_numpy() if rej.height else np.array([], dtype=object)
    rej_raw = rej["line"].to_numpy() if rej.height else np.array([], dtype=np.int64)
    # rows of one file are contiguous and in file order (DuckDB preserves insertion order)
    bounds: dict[str, tuple[int, int]] = {}
    if frame.height:
        shas = list(scan.values())
        change = np.flatnonzero(file_idx[1:] != file_idx[:-1]) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [frame.height]])
        for s, e in zip(starts, ends, strict=True):
            bounds[shas[file_idx[s]]] = (int(s), int(e))
    for f in files:
        s, e = bounds.get(f.sha, (0, 0))
        rmask = rej_file == f.sha
        good, bad = _physical_lines(extra_all[s:e], rej_raw[rmask])
        lines[s:e] = good
        if rmask.any():
            order = np.argsort(rej_raw[rmask], kind="stable")
            tmp = np.empty(len(bad), dtype=np.int64)
            tmp[order] = bad
            rej_lines_out[rmask] = tmp
    frame = frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64))
    n_cols = len(names)
    rejects = rej.select(
        pl.col(FILE),
        pl.Series(LINE, rej_lines_out, dtype=pl.Int64),
        pl.col("error_type")
        .replace_strict(
            {k: v[0] for k, v in _ERROR_CODES.items()}, default="broken_row", return_dtype=pl.String
        )
        .alias("reason_code"),
        pl.concat_str(
            [
                pl.col("msg").fill_null(pl.col("error_type")).str.slice(0, 80),
                pl.lit(f"; expected {n_cols} columns like the header"),
            ]
        ).alias("reason"),
        pl.col("csv_line").fill_null("").str.slice(0, 300).alias("preview"),
    )
    if want is not None:
        n_rej = dict(rej.group_by(FILE).len().iter_rows()) if rej.height else {}
        records = {}
        for f in files:
            s, e = bounds.get(f.sha, (0, 0))
            records[f.sha] = 1 + (e - s) + n_rej.get(f.sha, 0)  # the header, the rows, the rejected records
        return RawRead(frame, header, rejects, [f.sha for f in files]), records
    # a file that does not end with a line break was cut while copying: its last record is incomplete
    trunc = []
    for f in files:
        if ends_with_newline(f.path):
            continue
        s, e = bounds.get(f.sha, (0, 0))
        last_good = int(lines[e - 1]) if e > s else -1
        rl = rejects.filter(pl.col(FILE) == f.sha)[LINE]
        last_rej = int(rl.max()) if rl.len() else -1
        if last_rej > last_good:
            rejects = rejects.with_columns(
                pl.when((pl.col(FILE) == f.sha) & (pl.col(LINE) == last_rej))
                .then(pl.lit("truncated"))
                .otherwise(pl.col("reason_code"))
                .alias("reason_code")
            )
        elif last_good > 0:
            trunc.append((f.sha, last_good))
    if trunc:
        cut = pl.DataFrame(trunc, schema={FILE: pl.String, LINE: pl.Int64}, orient="row")
        cut_rows = frame.join(cut, on=[FILE, LINE], how="semi")
        rejects = pl.concat(
            [
                rejects,
                cut_rows.select(
                    FILE,
                    LINE,
                    pl.lit("truncated").alias("reason_code"),
                    pl.lit(TRUNCATED_WORDS).alias("reason"),
                    pl.concat_str([pl.col(n).fill_null("") for n in names], separator=",")
                    .str.slice(0, 300)
                    .alias("preview"),
                ),
            ]
        )
        frame = frame.join(cut, on=[FILE, LINE], how="anti")
    # U+FFFD from a GB18030 transcode marks undecodable bytes
    if any(str(paths[f.sha]) != str(f.path) for f in files) and frame.height:  # transcoded
        bad = frame.select(
            pl.any_horizontal([pl.col(n).str.contains("\ufffd", literal=True) for n in names]).fill_null(
                False
            )
        ).to_series()
        if bad.any():
            bad_rows = frame.filter(bad)
            rejects = pl.concat(
                [
                    rejects,
                    bad_rows.select(
                        FILE,
                        LINE,
                        pl.lit("bad_encoding").alias("reason_code"),
                        pl.lit("bytes that are not valid GB18030 text").alias("reason"),
                        pl.concat_str([pl.col(n).fill_null("") for n in names], separator=",")
                        .str.slice(0, 300)
                        .alias("preview"),
                    ),
                ]
            )
            frame = frame.filter(~bad)
    return RawRead(frame, header, rejects, [f.sha for f in files]), {}


def _cell_text(v) -> str | None:
    import datetime as _dt

    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, _dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, _dt.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, _dt.time):
        return v.strftime("%H:%M:%S")
    return str(v)


def read_xlsx(f: SourceFile) -> RawRead:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(f.path))
        rows = wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a file-level problem for the user
        raise FileUnreadable(
            "truncated", f"the Excel file cannot be opened ({exc}); export it again"
        ) from exc
    if not rows:
        raise FileUnreadable("empty_file", "the first sheet is empty")
    header = [str(c).strip() if c is not None else "" for c in rows[0]]
    while header and header[-1] == "":
        header.pop()
    names = unique_names(header)
    n = len(names)
    data, lines, rejects = [], [], []
    for i, r in enumerate(rows[1:], start=2):
        cells = [_cell_text(v) for v in r]
        if all(c is None for c in cells):
            continue  # blank rows are not records
        if any(c is not None for c in cells[n:]):
            rejects.append(
                (
                    f.sha,
                    i,
                    "broken_row",
                    f"{len(cells)} cells; expected {n} columns like the header",
                    ",".join(c or "" for c in cells)[:300],
                )
            )
            continue
        data.append((cells + [None] * n)[:n])
        lines.append(i)
    frame = pl.DataFrame(data, schema={nm: pl.String for nm in names}, orient="row")
    frame = frame.with_columns(pl.lit(f.sha).alias(FILE), pl.Series(LINE, lines, dtype=pl.Int64))
    return RawRead(frame, header, pl.DataFrame(rejects, schema=REJECT_SCHEMA, orient="row"), [f.sha])


# a blank line: nothing but white space (ASCII, no-break and ideographic spaces)
# (a regex search stops at the first other character; trim() would copy every line)
BLANK = "line IS NULL OR NOT regexp_matches(line, '[^ \\t\\r\\n\\v\\f\\x{00a0}\\x{3000}]')"


_JSON_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# bytes a line that is blank to BLANK can start with (the whitespace it names, and the lead bytes of U+00A0 / U+3000)
_MAYBE_BLANK_START = np.zeros(256, dtype=bool)
_MAYBE_BLANK_START[[0x20, 0x09, 0x0D, 0x0A, 0x0B, 0x0C, 0xC2, 0xE3]] = True
_BLANK_TEXT = re.compile("[^ \t\r\n\v\f\u00a0\u3000]")


def _json_columns(fields: dict[str, str]) -> tuple[str, list[str]] | None:
    """``read_json``'s ``columns`` for the fields' paths (``$.a`` or ``$.a.b``: a VARCHAR, or a STRUCT of them) and
    the select list naming each field; None for a path it cannot express."""
    tree: dict[str, dict | None] = {}
    picks = []
    for name, path in fields.items():
        keys = path.split(".")
        if keys[0] != "$" or not 2 <= len(keys) <= 3 or not all(_JSON_KEY.match(k) for k in keys[1:]):
            return None
        top = keys[1]
        if len(keys) == 2:
            if top in tree:
                return None
            tree[top] = None
            picks.append(f'"{top}" AS "{name}"')
        else:
            sub = tree.setdefault(top, {})
            if sub is None:
                return None
            sub[keys[2]] = None
            picks.append(f'struct_extract("{top}", \'{keys[2]}\') AS "{name}"')
    cols = ", ".join(
        f"'{k}': "
        + ("'VARCHAR'" if v is None else "'STRUCT(" + ", ".join(f'"{s}" VARCHAR' for s in v) + ")'")
        for k, v in tree.items()
    )
    return "{" + cols + "}", picks


@dataclass
class _Lines:
    """A file's bytes and its lines (``\\n``-separated, the break excluded); ``rows``: the 0-based indexes of the
    lines that are not blank as BLANK counts them — the lines the line scan returns as rows."""

    data: bytes | mmap.mmap
    starts: np.ndarray
    ends: np.ndarray
    rows: np.ndarray


def _line_index(path: Path) -> _Lines | None:
    """:class:`_Lines` of a file, or None when ``read_json`` and the line scan could see its lines differently: a
    lone ``\\r`` (the line scan may break the line there), a vertical tab or form feed (``read_json`` takes them for
    whitespace around a document, ``json_valid`` does not), a maybe-blank line that is not UTF-8."""
    with Path(path).open("rb") as fh:
        if not os.fstat(fh.fileno()).st_size:
            return _Lines(b"", *(np.zeros(0, dtype=np.int64),) * 3)
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # mapped, not copied; closed when dropped
    if data.find(b"\x0b") >= 0 or data.find(b"\x0c") >= 0:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    if data.find(b"\r") >= 0:
        cr = np.flatnonzero(buf == 0x0D)
        if cr[-1] + 1 >= buf.size or (buf[cr + 1] != 0x0A).any():
            return None
    nl = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [buf.size]])
    if starts[-1] == buf.size:  # the file ends with a line break (or is empty): no line after it
        starts, ends = starts[:-1], ends[:-1]
    if not starts.size:
        return _Lines(data, starts, ends, starts)
    first = buf[np.minimum(starts, buf.size - 1)]
    blank = np.zeros(starts.size, dtype=bool)
    for i in np.flatnonzero((starts == ends) | _MAYBE_BLANK_START[first]):
        try:
            text = data[starts[i] : ends[i]].decode("utf-8")
        except UnicodeDecodeError:
            return None
        blank[i] = _BLANK_TEXT.search(text) is None
    return _Lines(data, starts, ends, np.flatnonzero(~blank))


def _read_jsonl_parsed(
    files: list[SourceFile], fields: dict[str, str]
) -> tuple[pl.DataFrame, dict[int, tuple[_Lines, np.ndarray]], list[SourceFile]]:
    """The lines ``read_json`` parses (one JSON parse per line, where the line scan parses twice: ``json_valid``,
    then the extraction), with what is left to the line scan.

    ``read_json`` says nothing of where a line it could not parse was: it returns a row without any field for it,
    or swallows the next line with it, or fails the scan. A file is taken from it when its rows match its
    non-blank lines one for one — as many rows as lines — so each row gets its line's number; its rows without any
    field (a cut or corrupt line, bytes that are not UTF-8, ``NaN``, a line with none of the fields) are left to
    the line scan, which finds and describes them. Returns the rows taken (with ``_fi``, the file's position, and
    ``_line``), for each file taken its lines and the positions of the rows left, and the files to read wholly
    by the line scan (all of them when the scan fails or a path is not ``$.key`` / ``$.key.key``). The values
    are the ones ``json_extract_string`` gives (a number its digits, an object its JSON text, a missing or
    mistyped path NULL), numbers with an exponent aside (``1e20``: ``1e+20`` here)."""
    spec = _json_columns(fields)
    if spec is None or not files:
        return pl.DataFrame(), {}, files
    cols, picks = spec
    sql = (
        f"SELECT file_index::INTEGER AS _fi, {', '.join(picks)} FROM read_json(?, format='newline_delimited', "
        f"columns={cols}, ignore_errors=true, maximum_object_size=16777216)"
    )
    try:
        with _CONN_LOCK:
            frame = fetch_pl(_reader(), sql, [[str(f.path) for f in files]])
    except duckdb.Error:
        return pl.DataFrame(), {}, files
    # the rows come in file order: a row's position in its file is its index less the file's first row's
    fi = frame["_fi"].to_numpy()
    counts = np.bincount(fi, minlength=len(files)) if fi.size else np.zeros(len(files), dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    none = frame.select(pl.all_horizontal(pl.col(list(fields)).is_null()))[:, 0].to_numpy()
    left_rows = np.flatnonzero(none)
    line_no = np.zeros(frame.height, dtype=np.int64)  # 0: the row is not taken
    taken, whole = {}, []
    for i, f in enumerate(files):
        lines = _line_index(f.path)
        if lines is None or len(lines.rows) != counts[i]:
            whole.append(f)
            continue
        line_no[first[i] : first[i] + counts[i]] = lines.rows + 1
        lo, hi = np.searchsorted(left_rows, [first[i], first[i] + counts[i]])
        left = left_rows[lo:hi] - first[i]
        if not left.size:  # nothing of this file goes to the line scan: its bytes are not needed
            lines = _Lines(b"", lines.starts[:0], lines.ends[:0], lines.rows)
        taken[i] = (lines, left)
    line_no[none] = 0
    frame = frame.with_columns(pl.Series(LINE, line_no)).filter(pl.col(LINE) > 0)
    return frame, taken, whole


def read_jsonl_batch(files: list[SourceFile], fields: dict[str, str] | None = None) -> RawRead:
    """JSON lines: one text column ``json`` per line (parsed later), or — with ``fields`` (column → JSON path) —
    parsed right in the scan: a column per field plus ``_ok`` (the line is valid JSON), and ``json`` kept only
    where it is not (for the quarantine preview). Parsing in the scan spares moving every raw line through
    polars and back into DuckDB. With ``fields`` the lines ``read_json`` parses come from it
    (:func:`_read_jsonl_parsed`) and only the others from the line scan: the few lines it left, written to a
    temporary file per source file and numbered back, and the files it could not take."""
    if not fields:
        return _read_jsonl_lines(files, fields)
    frame, taken, whole = _read_jsonl_parsed(files, fields)
    if not taken:
        return _read_jsonl_lines(files, fields)
    names = list(fields)
    parsed = frame.select(
        pl.lit(True).alias("_ok"),
        pl.lit(None, pl.String).alias("json"),
        *names,
        _sha_of_index("_fi", {str(f.path): f.sha for f in files}),
        LINE,
        "_fi",
    )
    # the lines left, as small files of their own (one per source file: a byte-order mark stays first), numbered
    # back to their lines in the source file
    temps, renumber = [], []
    try:
        for i, (lines, left) in taken.items():
            if not left.size:
                continue
            idx = lines.rows[left]
            fd, tmp = tempfile.mkstemp(suffix=".jsonl", prefix="xsj_lines_")
            with os.fdopen(fd, "wb") as out:
                out.write(b"".join(lines.data[lines.starts[j] : lines.ends[j]] + b"\n" for j in idx))
            temps.append(SourceFile(files[i].sha, files[i].name, Path(tmp), files[i].encoding))
            renumber.append(
                pl.DataFrame(
                    {FILE: files[i].sha, LINE: np.arange(1, idx.size + 1), "_orig": idx + 1},
                    schema={FILE: pl.String, LINE: pl.Int64, "_orig": pl.Int64},
                )
            )
        rest = _read_jsonl_lines(whole + temps, fields) if whole or temps else None
    finally:
        for t in temps:
            Path(t.path).unlink(missing_ok=True)
    if rest is None:
        return RawRead(
            parsed.drop("_fi"), ["json"], pl.DataFrame(schema=REJECT_SCHEMA), [f.sha for f in files]
        )
    rest_frame, rejects = rest.frame, rest.rejects
    if renumber:
        ren = pl.concat(renumber)
        temp_shas = pl.Series([t.sha for t in temps], dtype=pl.String).implode()

        def back(df: pl.DataFrame) -> pl.DataFrame:
            return (
                df.join(ren, on=[FILE, LINE], how="left", maintain_order="left")
                .with_columns(
                    pl.when(pl.col(FILE).is_in(temp_shas))
                    .then(pl.col("_orig"))
                    .otherwise(pl.col(LINE))
                    .alias(LINE)
                )
                .drop("_orig")
            )

        rest_frame, rejects = back(rest_frame), back(rejects)
    # rows in batch and line order, as one line scan returns them
    order = {f.sha: i for i, f in enumerate(files)}

    def file_no(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(pl.col(FILE).replace_strict(order, return_dtype=pl.Int32).alias("_fi"))

    # both are in (file, line) order already or nearly: merged, the parsed rows are copied once, not sorted
    rest_frame = file_no(rest_frame.select(parsed.columns[:-1])).cast(parsed.schema).sort("_fi", LINE)
    out = parsed.merge_sorted(rest_frame, ["_fi", LINE]).drop("_fi")
    return RawRead(out, ["json"], file_no(rejects).sort("_fi", LINE).drop("_fi"), [f.sha for f in files])


def _read_jsonl_lines(files: list[SourceFile], fields: dict[str, str] | None = None) -> RawRead:
    """:func:`read_jsonl_batch` line by line: every physical line read as text, then validated and parsed."""
    scan = {str(f.path): f.sha for f in files}
    source = (
        "(SELECT line, file_index::INTEGER AS _fi FROM read_csv(?, header=false, columns={'line': 'VARCHAR'}, "
        "auto_detect=false, delim='\\x01', quote='', escape='', ignore_errors=true, store_rejects=true, "
        "max_line_size=16777216, strict_mode=false))"
    )
    if fields:
        picks = ", ".join(f"x[{i + 1}] AS {name}" for i, name in enumerate(fields))
        paths = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in fields.values()) + "]"
        sql = (
            f"SELECT _fi, {BLANK} AS _blank, ok AS _ok, "
            f"CASE WHEN NOT ok THEN line END AS json, {picks} FROM ("
            f"  SELECT _fi, line, ok, CASE WHEN ok THEN json_extract_string(line, {paths}) END AS x FROM ("
            f"    SELECT _fi, line, coalesce(json_valid(line), FALSE) AS ok FROM {source}))"
        )
    else:
        sql = f"SELECT line AS json, _fi, {BLANK} AS _blank FROM {source}"
    with _CONN_LOCK:
        conn = _reader()
        frame = fetch_pl(conn, sql, [list(scan)])
        rej = _rejects(conn)
    frame = frame.with_columns(_sha_of_index("_fi", scan)).drop("_fi")
    rej = rej.with_columns(
        pl.col("file_path").replace_strict(scan, default=None, return_dtype=pl.String).alias(FILE)
    )
    # DuckDB returns every physical line (blank ones as NULL) except rejected ones, in file order
    counts = dict(frame.group_by(FILE).len().iter_rows()) if frame.height else {}
    lines = np.zeros(frame.height, dtype=np.int64)
    pos = 0
    for f in files:
        n = counts.get(f.sha, 0)
        rl = rej.filter(pl.col(FILE) == f.sha)["line"].to_numpy()
        good, _ = _physical_lines(np.zeros(n, dtype=np.int64), rl + 1)  # _physical_lines counts a header line
        lines[pos : pos + n] = good - 1
        pos += n
    frame = frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64)).filter(~pl.col("_blank")).drop("_blank")
    rejects = rej.select(
        pl.col(FILE),
        pl.col("line").cast(pl.Int64).alias(LINE),
        # a JSON line cut in the middle of a multi-byte character is a broken record, not a broken file
        pl.lit("bad_json").alias("reason_code"),
        pl.lit("not a JSON object: the line holds bytes that are not UTF-8 (cut or corrupted)").alias(
            "reason"
        ),
        pl.col("csv_line").fill_null("").str.slice(0, 300).alias("preview"),
    )
    return RawRead(frame, ["json"], rejects, [f.sha for f in files])


def read_json_document(path: Path, encoding: str | None) -> list[tuple[int | None, object]]:
    """A JSON document (object or array), or JSON lines of documents: list of (line or None, object)."""
    text = Path(path).read_bytes().decode(encoding or "utf-8", errors="strict").lstrip("\ufeff")
    try:
        obj = json.loads(text)
        return [(None, o) for o in (obj if isinstance(obj, list) else [obj])]
    except json.JSONDecodeError:
        pass
    out: list[tuple[int | None, object]] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((i, json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append((i, exc))
    return out
