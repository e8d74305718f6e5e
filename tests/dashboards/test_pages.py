"""AppTest tests of every dashboard page on a hand-built snapshot with known numbers (tests/dashboards/snapshot_factory)."""

import io
import re

import openpyxl
import polars as pl
import pytest
from dashboard_apptest import PAGES, make_app
from snapshot_factory import DAC1, DAC2, real_schema, sample_tables, write_snapshot

from dashboards import data, ui
from dashboards.i18n import STRINGS, t
from xiaoshuju import metrics

TITLES = {
    "overview": "overview_title",
    "members": "members_title",
    "groups": "groups_title",
    "dac": "dac_title",
    "fission": "fission_title",
    "data_quality": "quality_title",
}


def _metrics(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _no_exception(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_sample_snapshot(sample_snapshot, page):
    at = make_app(page)
    _no_exception(at)
    assert at.title[0].value == t(TITLES[page], "zh")
    assert at.metric, "every page shows at least one number"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_english(sample_snapshot, page):
    at = make_app(page, lang="en")
    _no_exception(at)
    assert at.title[0].value == t(TITLES[page], "en")


@pytest.mark.parametrize("page", PAGES)
def test_missing_snapshot_shows_run_the_pipeline_first(serving, page):
    at = make_app(page)
    _no_exception(at)
    assert at.title[0].value == t("no_snapshot_title", "zh")
    assert "xiaoshuju demo" in at.warning[0].value


@pytest.mark.parametrize("page", ["overview", "members", "data_quality"])
def test_empty_snapshot_is_friendly(empty_snapshot, page):
    at = make_app(page, lang="en")
    _no_exception(at)
    assert at.title[0].value == t("no_snapshot_title", "en")
    assert at.warning[0].value == t("empty_snapshot", "en")


def test_overview_kpis_week_over_week(sample_snapshot):
    at = make_app("overview")
    cards = _metrics(at)
    gmv = metrics.get("gmv")
    # last week (6th) GMV 6000 vs 5000 the week before
    assert cards[gmv.label("zh")] == (gmv.format(6000.0), "+20.0%")
    assert cards[metrics.get("orders").label("zh")][0] == "60"


def test_week_filter_changes_the_numbers(sample_snapshot):
    at = make_app("overview", to="2026-W05")  # 4th week: GMV 4000 vs 3000
    gmv = metrics.get("gmv")
    assert _metrics(at)[gmv.label("zh")] == (gmv.format(4000.0), "+33.3%")
    # the slider follows the URL, and moving it writes the URL back
    slider = at.select_slider[0]
    assert slider.value == ("2026-W02", "2026-W05")
    slider.set_range("2026-W03", "2026-W04").run()
    assert at.query_params["from"] == "2026-W03" and at.query_params["to"] == "2026-W04"
    assert _metrics(at)[gmv.label("zh")] == (gmv.format(3000.0), "+50.0%")


def test_attribution_table_splits_gmv(sample_snapshot):
    at = make_app("overview", lang="en")
    df = next(d.value for d in at.dataframe if "Attribution method" in d.value.columns)
    # whole range: GMV 21000; group-based attributed 60% = 12600, brand direct 8400
    row = df[df["Attribution method"] == "Group-based"].iloc[0]
    assert row["Attributed to a 大C"] == pytest.approx(12600.0)
    assert row["Brand direct"] == pytest.approx(8400.0)


def test_dac_filter_changes_member_numbers(sample_snapshot):
    all_members = _metrics(make_app("members", lang="en"))["Members"][0]
    dac1 = make_app("members", lang="en", dac=DAC1)
    assert all_members == "12"
    assert _metrics(dac1)["Members"][0] == "6"
    # with a 大C picked, the at-risk list shows their members (masked), high band only: members 3, 4, 5
    at_risk = dac1.dataframe[-1].value
    assert sorted(at_risk["member_id"]) == ["m_0000000000000003", "m_0000000000000004", "m_0000000000000005"]
    group = make_app("members", lang="en", dac=DAC1, group="g_0000000000000001")
    assert _metrics(group)["Members"][0] == "3"


def test_members_without_dac_are_shown_through_their_dac(sample_snapshot):
    at = make_app("members")
    _no_exception(at)
    assert at.info[0].value == t("dac_first", "zh")
    shown = [d.value for d in at.dataframe]
    assert not any("member_id" in d.columns or "会员ID" in d.columns for d in shown), "不穿透: no member list"


def test_dac_selectbox_writes_url_and_scopes_groups(sample_snapshot):
    at = make_app("groups", lang="en")
    ranking = next(d.value for d in at.dataframe if "vitality_score" in d.value.columns)
    assert len(ranking) == 3
    at.selectbox(key="w_dac").set_value(DAC2).run()
    _no_exception(at)
    assert at.query_params["dac"] == DAC2
    ranking = next(d.value for d in at.dataframe if "vitality_score" in d.value.columns)
    assert list(ranking["group"]) == ["宝妈好物群"]


def test_language_switch_widget(sample_snapshot):
    at = make_app("dac")
    assert at.title[0].value == t("dac_title", "zh")
    at.radio(key="w_lang").set_value("en").run()
    assert at.title[0].value == t("dac_title", "en")
    assert at.query_params["lang"] == "en"
    labels = {m.label for m in at.metric}
    assert metrics.get("gini").label("en") in labels


def test_dac_drilldown_lists_masked_members(sample_snapshot):
    at = make_app("dac", lang="en", dac=DAC2)
    _no_exception(at)
    tables = [d.value for d in at.dataframe]
    members = next(d for d in tables if "member_id" in d.columns)
    assert len(members) == 4 and set(members["display_name_masked"]) == {"王*"}
    board = next(d for d in tables if "rank" in d.columns)
    assert list(board["rank"]) == [1]  # DAC2 (twice DAC1's attributed GMV) ranks first


def test_fission_follows_dac_filter(sample_snapshot):
    at = make_app("fission", lang="en", dac=DAC1)
    _no_exception(at)
    cards = _metrics(at)
    assert cards[metrics.get("tree_size").label("en")][0] == "4"
    assert cards[metrics.get("tree_depth").label("en")][0] == "2"


def test_new_snapshot_appears_without_restart(serving):
    write_snapshot(serving, sample_tables(), version="v1")
    at = make_app("overview")
    gmv = metrics.get("gmv")
    assert _metrics(at)[gmv.label("zh")][0] == gmv.format(6000.0)
    tables = sample_tables()
    tables["marts.weekly_kpis"] = tables["marts.weekly_kpis"].with_columns(pl.col("gmv") * 2)
    write_snapshot(serving, tables, version="v2", data_as_of="2026-02-22")
    at.run()
    assert _metrics(at)[gmv.label("zh")][0] == gmv.format(12000.0)
    assert any("v2" in cap.value for cap in at.sidebar.caption)


def test_every_ui_string_has_both_languages():
    for key, pair in STRINGS.items():
        assert len(pair) == 2 and all(pair), key


def test_masking_is_a_last_line_of_defence():
    df = pl.DataFrame({"display_name_masked": ["王*", "call 13812345678 now"], "n": [1, 2]})
    out = data.masked(df)
    assert out["display_name_masked"].to_list() == ["王*", "call 138****5678 now"]
    assert data.mask_text("13912345678") == "139****5678"


def test_exports_round_trip():
    df = pl.DataFrame({"社群名称": ["团购一群"], "gmv": [12.5]})
    wb = openpyxl.load_workbook(io.BytesIO(ui._to_xlsx(df)))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows == [("社群名称", "gmv"), ("团购一群", 12.5)]
    csv = ui._to_csv(df)
    assert csv.startswith("\ufeff".encode()) and "团购一群" in csv.decode("utf-8-sig")


RAW_PHONE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?![\d.])")  # not inside a decimal number


def _all_text(at) -> str:
    """Every value the app rendered: texts, metrics, captions, alerts and every cell of every table."""
    parts = [
        e.value
        for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success")
        for e in getattr(at, kind)
    ]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_no_raw_phone_reaches_any_page(serving):
    """A raw phone smuggled into published tables (a masking bug upstream) is still shown masked."""
    canary = "13987654321"
    tables = sample_tables()
    ml = tables["marts.member_lifetime"]
    tables["marts.member_lifetime"] = ml.with_columns(
        pl.when(pl.col("member_id") == "m_0000000000000004")
        .then(pl.lit(canary))
        .otherwise(pl.col("display_name_masked"))
        .alias("display_name_masked")
    )
    qs = tables["quarantine.summary"]
    tables["quarantine.summary"] = qs.with_columns(pl.col("example_reason") + f" {canary}")
    write_snapshot(serving, tables)
    seen = []
    for page in PAGES:
        for query in ({}, {"dac": DAC1}):
            text = _all_text(make_app(page, **query))
            assert not RAW_PHONE.search(text), (page, query, RAW_PHONE.search(text).group(0))
            seen.append(text)
    assert "139****4321" in "\n".join(seen)


def test_default_week_is_the_last_complete_one(serving):
    # data as of Wednesday of the 6th week: that week is partial, "this week" defaults to the 5th
    write_snapshot(serving, sample_tables(), data_as_of="2026-02-11T04:00:00+00:00")
    at = make_app("overview")
    gmv = metrics.get("gmv")
    assert _metrics(at)[gmv.label("zh")] == (gmv.format(5000.0), "+25.0%")
    assert "from" not in at.query_params and "to" not in at.query_params
    at = make_app("overview", to="2026-W07")  # the running week stays selectable, and says it is partial
    assert _metrics(at)[gmv.label("zh")][0] == gmv.format(6000.0)
    assert any("2026-W07" in cap.value for cap in at.sidebar.caption)


def test_cli_serves_streamlit_headless_on_localhost():
    from dashboards.cli import streamlit_command
    from xiaoshuju.cli import main

    cmd = streamlit_command()
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboards/app.py")
    opts = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert opts["--server.address"] == "127.0.0.1" and opts["--server.port"] == "8501"
    assert opts["--server.headless"] == "true"
    with pytest.raises(SystemExit) as exc:
        main(["dashboard", "--help"])
    assert exc.value.code == 0


def test_pages_read_only_real_mart_columns():
    """Every column the pages read exists in a real snapshot (real_schema.json, kept in sync by a slow test)."""
    schema = real_schema()
    wrong = {
        name: [c for c in cols if c not in schema[name]]
        for name, cols in data.COLUMNS.items()
        if name in schema
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_hand_made_tables_must_use_real_column_names(serving):
    tables = sample_tables()
    tables["marts.group_vitality_weekly"] = tables["marts.group_vitality_weekly"].rename(
        {"owner_member_id": "owner_id"}
    )
    with pytest.raises(KeyError, match="owner_id"):
        write_snapshot(serving, tables)


def test_a_missing_documented_column_is_a_visible_error(serving):
    """A published table without a column the page reads is a broken contract: an error, not a silently ignored
    filter. (A missing table is fine: "not available in this snapshot".)"""
    tables = sample_tables()
    del tables["marts.group_alerts"]  # missing table: said so, no error
    write_snapshot(serving, tables)
    path = serving / (serving / "CURRENT").read_text().strip() / "marts.group_vitality_weekly.parquet"
    pl.read_parquet(path).drop("owner_member_id").write_parquet(path)  # bypasses the factory's conform
    at = make_app("groups")
    assert at.exception and "owner_member_id" in at.exception[0].message
    assert "SchemaMismatch" in at.exception[0].message or "SchemaMismatch" in str(at.exception[0].stack_trace)


def test_missing_table_is_not_available(serving):
    tables = sample_tables()
    del tables["marts.group_alerts"]
    write_snapshot(serving, tables)
    at = make_app("groups", lang="en")
    _no_exception(at)
    assert any(data.GROUP_ALERTS in i.value and "Not available" in i.value for i in at.info)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh", ["拥有≥20人社群 + 90天内≥3位被推荐人购买", "分销成交额≥自购", None]),
        ("en", ["owns a group of ≥ 20 + ≥ 3 referees bought in 90 days", "attributed GMV ≥ own GMV", None]),
    ],
)
def test_l4_rule_shown_in_words(lang, expected):
    """marts.member_lifetime.l4_rule holds codes joined by '+' on a tie; tables show each clause in words."""
    c = ui.Ctx(lang, None, [], None, None, None, None)
    df = pl.DataFrame({"l4_rule": ["group+referees", "attributed_gmv", None]})
    assert ui.translate(c, df)["l4_rule"].to_list() == expected
