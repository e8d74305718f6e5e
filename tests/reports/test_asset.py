"""The Dagster asset reports/weekly_pdf: renders one weekly partition; refuses a week whose blocking checks failed
in the Dagster instance."""

import dagster as dg
import pytest
from report_snapshot import W47

from assets.reports.asset import weekly_pdf
from pipelines.resources import SettingsResource


@dg.asset(
    key=["marts", "fake_mart"], check_specs=[dg.AssetCheckSpec("always_fails", asset=["marts", "fake_mart"])]
)
def _fake_mart():
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(check_name="always_fails", passed=False, severity=dg.AssetCheckSeverity.ERROR)
        ]
    )


def test_asset_renders_partition(snapshot_home):
    result = dg.materialize(
        [weekly_pdf],
        partition_key=W47.isoformat(),
        resources={"settings": SettingsResource(home=str(snapshot_home.home))},
    )
    assert result.success
    (mat,) = result.get_asset_materialization_events()
    meta = mat.materialization.metadata
    assert meta["pages"].value == 3 and meta["status"].value == "rendered"
    assert (snapshot_home.reports / "demo-brand_2026-W47.pdf").exists()


def test_asset_fails_without_pdf_when_a_blocking_check_failed(snapshot_home):
    instance = dg.DagsterInstance.ephemeral()
    resources = {"settings": SettingsResource(home=str(snapshot_home.home))}
    assert dg.materialize([_fake_mart], instance=instance).success  # a failed check does not fail the run
    with pytest.raises(dg.Failure, match="always_fails"):
        dg.materialize(
            [_fake_mart, weekly_pdf],
            selection=[weekly_pdf],
            instance=instance,
            partition_key=W47.isoformat(),
            resources=resources,
        )
    assert not (snapshot_home.reports / "demo-brand_2026-W47.pdf").exists()
