"""Fixtures: a serving snapshot built by hand in the test's own XIAOSHUJU_HOME (see snapshot_factory.py)."""

import pytest
from snapshot_factory import empty_tables, sample_tables, write_snapshot


@pytest.fixture
def serving(xhome):
    return xhome.serving


@pytest.fixture
def sample_snapshot(serving):
    return write_snapshot(serving, sample_tables())


@pytest.fixture
def empty_snapshot(serving):
    return write_snapshot(serving, empty_tables())
