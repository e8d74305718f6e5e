"""The staging stage end to end, without Dagster: load pending files, then rebuild staging if anything changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from assets.staging.build import STAGING_TABLES, rebuild_staging
from assets.staging.load import LoadReport, load_pending
from xiaoshuju.settings import Settings
from xiaoshuju.warehouse import apply_schema


@dataclass
class StagingReport:
    load: LoadReport
    counts: dict[str, int] = field(default_factory=dict)
    rebuilt: bool = False


def run_staging(
    conn: duckdb.DuckDBPyConnection, settings: Settings, force_rebuild: bool = False
) -> StagingReport:
    apply_schema(conn)
    load = load_pending(conn, settings)
    rebuilt = False
    if (
        load.n_files
        or force_rebuild
        or not conn.execute("SELECT count(*) FROM staging.members").fetchone()[0]
    ):
        counts = rebuild_staging(conn)
        rebuilt = True
    else:
        counts = {t: conn.execute(f"SELECT count(*) FROM staging.{t}").fetchone()[0] for t in STAGING_TABLES}
    return StagingReport(load, counts, rebuilt)
