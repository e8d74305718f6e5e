"""The landing asset through Dagster: unknown files are named in the run's metadata, the run still succeeds."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.landing.asset import landing_manifest
from pipelines.resources import SettingsResource


def test_landing_asset_reports_problem_files_in_metadata(xhome):
    (xhome.inbox / "mystery.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (xhome.inbox / "blank.csv").write_text("", encoding="utf-8")
    result = dg.materialize(
        [landing_manifest],
        resources={
            "settings": SettingsResource(home=str(xhome.home)),
            "warehouse": DuckDBResource(database=str(xhome.warehouse)),
        },
    )
    assert result.success
    mat = result.asset_materializations_for_node("landing__manifest")[0]
    md = mat.metadata
    assert md["new_files"].value == 2
    assert md["files_not_readable_total"].value == 2
    assert "mystery.csv" in md["problem_files"].value and "blank.csv" in md["problem_files"].value
