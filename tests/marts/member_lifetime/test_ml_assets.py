"""The Dagster shells: materialise the four assets on a hand-built warehouse, including a partition range."""

import datetime as dt

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource
from ml_fixtures import Warehouse, d

import assets.marts.member_lifetime as ml
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import apply_schema


@pytest.fixture
def home(tmp_path):
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    apply_schema(conn)
    w = Warehouse(conn)
    for i in range(30):
        m = f"m{i:02d}"
        w.member(m)
        for k in range(i % 4 + 1):
            w.order(m, (d("2025-01-01") + dt.timedelta(days=3 * i + 11 * k)).isoformat(), 10 + i)
    # the latest order is m27's on 2025-04-25, a Friday: the default as-of is the Sunday before
    conn.close()
    return tmp_path


def resources(home):
    return {
        "warehouse": DuckDBResource(database=str(home / "warehouse.duckdb")),
        "settings": SettingsResource(home=str(home)),
    }


def test_materialize_unpartitioned_assets_with_fallback_visible(home):
    unpartitioned = [a for a in ml.ASSETS if not a.partitions_def]
    result = dg.materialize(unpartitioned, resources=resources(home), selection=None)
    assert result.success
    mats = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    model_md = mats["marts/clv_model"]
    assert model_md["status"].value == "fallback_empirical"
    assert "only 30 buyers" in model_md["status_reason"].value
    assert mats["marts/member_lifetime"]["dagster/row_count"].value == 30
    assert mats["marts/member_lifetime"]["as_of_date"].value == "2025-04-20"
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"model_is_fitted": False, "one_row_per_member_and_sane": True}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM marts.cohort_retention").fetchone()[0] > 0


def test_configured_as_of_date(home):
    result = dg.materialize(
        [a for a in ml.ASSETS if not a.partitions_def],
        resources=resources(home),
        run_config={"ops": {"marts__clv_model": {"config": {"as_of_date": "2025-02-16"}}}},
    )
    assert result.success
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT DISTINCT as_of_date FROM marts.member_lifetime").fetchall() == [
            (d("2025-02-16"),)
        ]


def test_weekly_asset_handles_a_partition_range(home):
    weekly = next(a for a in ml.ASSETS if a.partitions_def)
    result = dg.materialize(
        [weekly],
        resources=resources(home),
        tags={
            "dagster/asset_partition_range_start": "2025-01-06",
            "dagster/asset_partition_range_end": "2025-02-24",
        },
    )
    assert result.success
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        weeks = conn.execute(
            "SELECT min(week_start), max(week_start), count(*) FROM marts.member_lifecycle_weekly"
        ).fetchone()
    assert weeks == (d("2025-01-06"), d("2025-02-24"), 8)
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]


def test_fresh_install_without_orders(tmp_path):
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    apply_schema(conn)
    conn.close()
    result = dg.materialize([a for a in ml.ASSETS if not a.partitions_def], resources=resources(tmp_path))
    assert result.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT status FROM marts.clv_model").fetchone()[0] == "fallback_empirical"
        assert conn.execute("SELECT count(*) FROM marts.member_lifetime").fetchone()[0] == 0
