"""The weekly PDF on a real serving snapshot: the simulator at scale S run through the whole pipeline.

Slow (simulate + materialise every asset). Set XIAOSHUJU_TEST_S_HOME to a home where `xiaoshuju demo` already ran
to reuse it (the same variable the dashboard's real-data test uses). The report is written into a fresh home
whose serving/ and dagster_home/ point at the S home's, so the S home is never modified.
"""

import re
import shutil
import subprocess

import dagster as dg
import polars as pl
import pytest
from pypdf import PdfReader

from assets.reports.checks import from_instance
from assets.reports.weekly import produce_weekly_report
from assets.reports.weeks import parse_week
from xiaoshuju import metrics
from xiaoshuju.serving import current_snapshot
from xiaoshuju.settings import load_settings

pytestmark = pytest.mark.slow
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
WEEK = parse_week("2026-W47")  # the simulator's default last week (ends Sunday 2026-11-22)


@pytest.fixture(scope="module")
def s_home(demo_home):
    """The shared demo run (tests/conftest.py)."""
    return demo_home


def test_pdf_on_s_data(s_home, tmp_path):
    home = tmp_path / "report_home"
    home.mkdir()
    (home / "serving").symlink_to(s_home / "serving")
    settings = load_settings(home).ensure_dirs()
    checks = []
    if (s_home / "dagster_home" / "dagster.yaml").exists():
        instance = dg.DagsterInstance.from_config(str(s_home / "dagster_home"))
        checks = from_instance(instance, WEEK.isoformat())
        instance.dispose()

    out = produce_weekly_report(settings, WEEK, checks=checks)
    assert out.status == "rendered", out.detail
    assert out.missing_sections == {}
    assert 2 <= out.pages <= 4
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", "30", "-png", str(out.pdf), str(tmp_path / "p")], check=True, timeout=120
        )
        assert len(list(tmp_path.glob("p-*.png"))) == out.pages

    text = "\n".join(p.extract_text() or "" for p in PdfReader(str(out.pdf)).pages)
    row = current_snapshot(settings.serving).table("marts.weekly_kpis").filter(pl.col("week_start") == WEEK)
    assert row.height == 1
    for key in ("gmv", "orders", "buyers", "new_members", "active_dacs"):
        assert metrics.get(key).format(float(row[key][0])) in text, key
    for label in (
        "核心指标",
        "成交额归因",
        "本周贡献最高的大C",
        "需要关注的社群",
        "流失风险会员",
        "数据质量",
    ):
        assert label in text, label

    assert not PHONE.search(text), PHONE.search(text)
    persons = pl.read_parquet(s_home / "ground_truth" / "persons.parquet")
    names = {n for n in persons["name"].drop_nulls().to_list() if len(n) >= 2}
    names |= {n for n in persons["nickname"].drop_nulls().to_list() if len(n) >= 3}  # nicknames: masked only
    leaked = sorted(n for n in names if n in text)
    assert not leaked, leaked[:5]
