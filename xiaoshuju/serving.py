"""Read side of the serving snapshot — the only data the dashboard and the weekly PDF ever read.

Layout (written by assets/serving, never by hand)::

    serving/
      CURRENT                      # one line: the name of the current version directory (flipped atomically)
      v20261126T130000Z_ab12cd/    # one directory per published version, immutable once CURRENT points at it
        _snapshot.json             # {"version", "built_at", "data_as_of", "tables": {"marts.member_lifetime": rows, ...}}
        marts.member_lifetime.parquet
        ...

Readers never open the warehouse DuckDB file, so they never block the pipeline's single writer and never see a
half-built mart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

CURRENT = "CURRENT"
META = "_snapshot.json"


class NoSnapshotError(RuntimeError):
    """No serving snapshot has been published yet: run the pipeline first (`xiaoshuju run`)."""


@dataclass(frozen=True)
class Snapshot:
    path: Path
    meta: dict

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def built_at(self) -> str:
        return self.meta.get("built_at", "")

    @property
    def data_as_of(self) -> str | None:
        return self.meta.get("data_as_of")

    @property
    def tables(self) -> dict[str, int]:
        return dict(self.meta.get("tables", {}))

    def has(self, table: str) -> bool:
        return (self.path / f"{table}.parquet").exists()

    def table(self, table: str) -> pl.DataFrame:
        """A whole table, e.g. ``snap.table("marts.member_lifetime")``. Missing tables raise KeyError."""
        p = self.path / f"{table}.parquet"
        if not p.exists():
            raise KeyError(f"table {table!r} is not in serving snapshot {self.version}")
        return pl.read_parquet(p)

    def scan(self, table: str) -> pl.LazyFrame:
        p = self.path / f"{table}.parquet"
        if not p.exists():
            raise KeyError(f"table {table!r} is not in serving snapshot {self.version}")
        return pl.scan_parquet(p)


def current_snapshot(serving_dir: str | Path) -> Snapshot:
    """The snapshot CURRENT points at. Raises NoSnapshotError when none is published."""
    serving_dir = Path(serving_dir)
    pointer = serving_dir / CURRENT
    if not pointer.exists():
        raise NoSnapshotError(f"no serving snapshot in {serving_dir}: run the pipeline first (xiaoshuju run)")
    version = pointer.read_text(encoding="utf-8").strip()
    path = serving_dir / version
    meta_path = path / META
    if not version or not meta_path.exists():
        raise NoSnapshotError(f"serving pointer {pointer} names {version!r}, which is missing or incomplete")
    return Snapshot(path=path, meta=json.loads(meta_path.read_text(encoding="utf-8")))
