"""Canonical-table contracts (data_contracts/canonical/*.yaml) as Great Expectations Core 1.x suites.

The staging asset checks call :func:`validate_table`. To stay fast at any scale, column expectations run on a
reproducible sample of at most ``SAMPLE_ROWS`` rows, while keys (uniqueness, not-null) are checked on the full
table in DuckDB and the aggregate is validated by GX too. Results are rendered as GX Data Docs under
``$XIAOSHUJU_HOME/reports/data_docs/``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from data_contracts.contracts import TableContract, mappings, tables

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
SAMPLE_ROWS = 200_000
_LOCK = threading.Lock()
_CTX: dict[str, object] = {}


@dataclass
class Validation:
    table: str
    success: bool
    rows: int
    sampled: int
    failures: list[dict] = field(default_factory=list)  # expectation, column, unexpected_count, examples

    def summary_md(self) -> str:
        if self.success:
            return f"`{self.table}`: all expectations met ({self.sampled:,} of {self.rows:,} rows sampled)"
        lines = [f"`{self.table}`: {len(self.failures)} expectation(s) failed"]
        for f in self.failures[:12]:
            lines.append(
                f"- {f['expectation']} on `{f.get('column')}`: {f.get('unexpected_count')} unexpected "
                f"{f.get('examples') or ''}"
            )
        return "\n".join(lines)


def _context(docs_dir: Path | None):
    """One ephemeral GX context per process (building it costs ~1 s), with a Data Docs site on disk."""
    import great_expectations as gx

    key = str(docs_dir)
    with _LOCK:
        ctx = _CTX.get(key)
        if ctx is None:
            ctx = gx.get_context(mode="ephemeral")
            try:
                from great_expectations.data_context.types.base import ProgressBarsConfig

                ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            except Exception:  # noqa: BLE001 - cosmetic only
                pass
            if docs_dir is not None:
                docs_dir.mkdir(parents=True, exist_ok=True)
                ctx.add_data_docs_site(
                    site_name="xiaoshuju",
                    site_config={
                        "class_name": "SiteBuilder",
                        "store_backend": {
                            "class_name": "TupleFilesystemStoreBackend",
                            "base_directory": str(docs_dir),
                        },
                        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    },
                )
            ctx.data_sources.add_pandas("xiaoshuju")
            _CTX[key] = ctx
        return ctx


def expectations_for(contract: TableContract) -> list:
    """Column rules of a canonical contract → GX expectation objects."""
    import great_expectations as gx

    E = gx.expectations
    out = []
    for col, spec in contract.columns.items():
        out.append(E.ExpectColumnToExist(column=col))
        if spec.get("nullable", True) is False:
            out.append(E.ExpectColumnValuesToNotBeNull(column=col))
        if "allowed" in spec:
            out.append(E.ExpectColumnValuesToBeInSet(column=col, value_set=list(spec["allowed"])))
        if "min" in spec or "max" in spec:
            out.append(
                E.ExpectColumnValuesToBeBetween(
                    column=col, min_value=spec.get("min"), max_value=spec.get("max")
                )
            )
        if "regex" in spec:
            out.append(E.ExpectColumnValuesToMatchRegex(column=col, regex=spec["regex"]))
    return out


def _run(ctx, name: str, frame: pd.DataFrame, exps: list):
    import great_expectations as gx

    ds = ctx.data_sources.get("xiaoshuju")
    try:
        asset = ds.get_asset(name)
    except Exception:  # noqa: BLE001 - first use of this asset name
        asset = ds.add_dataframe_asset(name)
    try:
        bd = asset.get_batch_definition("all")
    except Exception:  # noqa: BLE001
        bd = asset.add_batch_definition_whole_dataframe("all")
    try:
        ctx.suites.delete(name)
    except Exception:  # noqa: BLE001
        pass
    suite = ctx.suites.add(gx.ExpectationSuite(name=name))
    for e in exps:
        suite.add_expectation(e)
    try:
        ctx.validation_definitions.delete(name)
    except Exception:  # noqa: BLE001
        pass
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=bd, suite=suite))
    return vd.run(batch_parameters={"dataframe": frame})


def _failures(result) -> list[dict]:
    out = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        res = r.result or {}
        out.append(
            {
                "expectation": cfg.type,
                "column": cfg.kwargs.get("column"),
                "unexpected_count": res.get("unexpected_count", res.get("observed_value")),
                "examples": [str(x) for x in (res.get("partial_unexpected_list") or [])[:3]],
            }
        )
    return out


def validate_frame(name: str, frame: pd.DataFrame, exps: list, docs_dir: Path | None = None) -> Validation:
    ctx = _context(docs_dir)
    with _LOCK:
        res = _run(ctx, name, frame, exps)
    return Validation(name, bool(res.success), len(frame), len(frame), _failures(res))


def validate_table(
    conn: duckdb.DuckDBPyConnection, table: str, docs_dir: Path | None = None, sample_rows: int = SAMPLE_ROWS
) -> Validation:
    """Validate ``staging.<table>`` (or a qualified name) against its canonical contract."""
    import great_expectations as gx

    contract = tables()[table]
    qualified = table if "." in table else f"staging.{table}"
    cols = list(contract.columns)
    n = conn.execute(f"SELECT count(*) FROM {qualified}").fetchone()[0]
    sample = f" USING SAMPLE reservoir({int(sample_rows)} ROWS) REPEATABLE (7)" if n > sample_rows else ""
    frame = conn.execute(f"SELECT {', '.join(cols)} FROM {qualified}{sample}").df()
    exps = expectations_for(contract)
    # keys on the full table, aggregated in DuckDB, validated by GX as a one-row frame
    agg_exps = []
    agg = {"rows": [n]}
    if contract.key:
        k = ", ".join(contract.key)
        dup, nulls = conn.execute(
            f"SELECT count(*) - count(DISTINCT ({k})), count(*) FILTER (WHERE {' OR '.join(c + ' IS NULL' for c in contract.key)}) "
            f"FROM {qualified}"
        ).fetchone()
        agg["duplicate_keys"] = [dup]
        agg["null_keys"] = [nulls]
        agg_exps = [
            gx.expectations.ExpectColumnValuesToBeBetween(column="duplicate_keys", min_value=0, max_value=0),
            gx.expectations.ExpectColumnValuesToBeBetween(column="null_keys", min_value=0, max_value=0),
        ]
    ctx = _context(docs_dir)
    with _LOCK:
        res = _run(ctx, f"{qualified}", frame, exps)
        failures = _failures(res)
        ok = bool(res.success)
        if agg_exps:
            res2 = _run(ctx, f"{qualified}__keys", pd.DataFrame(agg), agg_exps)
            failures += _failures(res2)
            ok = ok and bool(res2.success)
    return Validation(qualified, ok, n, len(frame), failures)


def known_status_texts() -> list[str]:
    out: set[str] = set()
    for m in mappings().values():
        out.update(m.values.get("status", {}).keys())
    return sorted(out)


def build_docs(docs_dir: Path) -> Path | None:
    """Render the Data Docs of every validation run in this process; returns the index page."""
    ctx = _context(docs_dir)
    try:
        with _LOCK:
            ctx.build_data_docs(site_names=["xiaoshuju"])
    except Exception:  # noqa: BLE001 - docs are a convenience, never block the pipeline
        return None
    idx = docs_dir / "index.html"
    return idx if idx.exists() else None
