"""Fixtures of the weekly PDF tests; the snapshot builders live in report_snapshot.py."""

import pytest
from report_snapshot import full_tables, write_snapshot


@pytest.fixture
def snapshot_home(xhome):
    """Settings whose serving dir holds the full hand-made snapshot."""
    write_snapshot(xhome.serving, full_tables())
    return xhome
