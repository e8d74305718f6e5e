"""Fixtures for the member lifetime tests: the canonical schema on a temp DuckDB file."""

import duckdb
import pytest
from ml_fixtures import Warehouse

from xiaoshuju.settings import Thresholds
from xiaoshuju.warehouse import apply_schema


@pytest.fixture
def wh(tmp_path):
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    apply_schema(conn)
    yield Warehouse(conn)
    conn.close()


@pytest.fixture
def th():
    return Thresholds()
