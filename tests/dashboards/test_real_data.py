"""Every page on a real serving snapshot: the simulator at scale S run through the whole pipeline.

Slow (simulate + materialise every asset). Set XIAOSHUJU_TEST_S_HOME to a home where `xiaoshuju demo` already
ran to reuse it. Besides rendering, scans everything the pages render for the simulator's raw phones and names.
"""

import re

import polars as pl
import pytest
from dashboard_apptest import PAGES, make_app

from xiaoshuju.serving import current_snapshot
from xiaoshuju.settings import load_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s_home(demo_home):
    """The shared demo run (tests/conftest.py)."""
    return demo_home


def _rendered(at) -> str:
    parts = [
        e.value
        for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success")
        for e in getattr(at, kind)
    ]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_pages_on_s_data_render_and_leak_nothing(s_home, monkeypatch):
    monkeypatch.setenv("XIAOSHUJU_HOME", str(s_home))
    persons = pl.read_parquet(s_home / "ground_truth" / "persons.parquet")
    names = {n for n in persons["name"].drop_nulls().to_list() if len(n) >= 2}
    phones = {re.sub(r"\D", "", p)[-11:] for p in persons["phone"].drop_nulls().to_list()}
    snap = current_snapshot(load_settings(s_home).serving)
    dacs = (
        pl.read_parquet(snap.path / "marts.dacs.parquet")["dac_id"].to_list()
        if snap.has("marts.dacs")
        else []
    )
    texts = []
    for page in PAGES:
        for query in ({}, {"dac": dacs[0]} if dacs else {}, {"lang": "en"}):
            at = make_app(page, timeout=120, **query)
            assert not at.exception, (page, query, [e.message for e in at.exception])
            texts.append(_rendered(at))
    text = "\n".join(texts)
    assert not re.search(r"(?<![\d.])1[3-9]\d{9}(?![\d.])", text)  # a phone, not digits of a decimal
    assert not [p for p in phones if p and p in text]
    leaked = sorted(n for n in names if n in text)
    assert not leaked, leaked[:10]
