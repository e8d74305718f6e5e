"""Landing: register every file dropped into the inbox, archive the original by content hash.

Pure logic (no Dagster). A file seen before (same sha256) is a no-op apart from ``seen_count``; unknown, empty,
binary or unreadable files are registered with a status and words for the user, never crashed on.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from data_contracts.detect import detect

CHUNK = 4 * 1024 * 1024


@dataclass
class LandingReport:
    new_files: list[dict] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # unknown / empty / binary / unreadable, by name

    @property
    def n_new(self) -> int:
        return len(self.new_files)


def hash_and_count(path: Path) -> tuple[str, int, int]:
    """sha256, size and number of newline-terminated lines, in one pass."""
    h = hashlib.sha256()
    lines = 0
    size = 0
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            lines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk[-1:]
    if size and last != b"\n":
        lines += 1
    return h.hexdigest(), size, lines


_COPY_SUFFIX = re.compile(r"(?: \(\d+\)| - (?:副本|copy)(?: \(\d+\))?)(?=\.[^.]*$|$)", re.IGNORECASE)


def _original_first(name: str) -> tuple[str, bool, str]:
    """Sort key: ``订单数据.csv`` before its copies ``订单数据 (1).csv`` / ``订单数据 - 副本.csv``, so a byte-identical copy
    is the one recognised as the duplicate and the manifest keeps the original name."""
    base = _COPY_SUFFIX.sub("", name)
    return (base, base != name, name)


def inbox_files(inbox: Path) -> list[Path]:
    """Every regular file under the inbox, in a stable order (originals before their copies); hidden and partial
    (``.part``/``.tmp``) files skipped."""
    out = []
    for root, dirs, files in os.walk(inbox):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files, key=_original_first):
            if name.startswith(".") or name.endswith((".part", ".tmp", ".crdownload")):
                continue
            out.append(Path(root) / name)
    return out


def register_inbox(conn: duckdb.DuckDBPyConnection, inbox: Path, archive: Path) -> LandingReport:
    """Register, archive (move) and de-duplicate every file in ``inbox``. Idempotent."""
    report = LandingReport()
    known = {r[0] for r in conn.execute("SELECT file_sha256 FROM landing.manifest").fetchall()}
    now = datetime.now(UTC)
    for path in inbox_files(inbox):
        rel = str(path.relative_to(inbox))
        sha, size, lines = hash_and_count(path)
        if sha in known:
            conn.execute(
                "UPDATE landing.manifest SET seen_count = seen_count + 1 WHERE file_sha256 = ?", [sha]
            )
            path.unlink()
            report.duplicates.append(rel)
            continue
        det = detect(path)
        dest_dir = archive / sha[:2] / sha
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / path.name
        try:
            os.replace(path, dest)
        except OSError:  # across file systems
            shutil.copy2(path, dest)
            path.unlink()
        if det.encoding == "xlsx" or det.format in ("empty", "binary", "unreadable"):
            rows = None
        elif det.format == "wecom_archive":
            rows = lines
        elif det.format == "wecom_group_detail":
            rows = None  # counted by staging (one JSON document per group)
        else:
            rows = max(lines - 1, 0)  # header excluded; staging writes the exact parsed count
        status = "registered" if det.problem is None else (
            "unknown_format" if det.format == "unknown" else det.format
        )
        row = {
            "file_sha256": sha,
            "file_name": rel,
            "archived_path": str(dest),
            "size_bytes": size,
            "detected_format": det.format,
            "encoding": det.encoding,
            "row_count": rows,
            "status": status,
            "problem": det.problem,
        }
        conn.execute(
            """INSERT INTO landing.manifest (file_sha256, file_name, archived_path, size_bytes, detected_format,
                   encoding, row_count, status, problem, first_seen_at, seen_count)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)""",
            [sha, rel, str(dest), size, det.format, det.encoding, rows, status, det.problem, now],
        )
        known.add(sha)
        report.new_files.append(row)
        if det.problem is not None:
            report.problems.append({"file_name": rel, "status": status, "problem": det.problem})
    return report
