"""The global filters (大C, group, week range) on a real serving snapshot (simulator S through the whole pipeline):
each filter changes the numbers on every page where it applies, to the values computed here directly from the
snapshot's Parquet tables with polars. Also: the real snapshot has the schema the hand-made test snapshots are
conformed to (tests/dashboards/real_schema.json), and every column the pages read.

Slow (uses the session's shared demo run, tests/conftest.py `demo_home`; set XIAOSHUJU_TEST_S_HOME to reuse one).
"""

from datetime import timedelta

import polars as pl
import pytest
from dashboard_apptest import make_app
from snapshot_factory import real_schema, schema_of

from dashboards import data
from dashboards.i18n import metric_format, metric_label, value_label
from xiaoshuju.serving import current_snapshot
from xiaoshuju.settings import load_settings

pytestmark = pytest.mark.slow


def _iso(d) -> str:
    return data.week_label(d)


class Real:
    """The snapshot's tables as polars frames (money as floats), and the filter values the tests use."""

    def __init__(self, home):
        self.home = home
        self.snap = current_snapshot(load_settings(home).serving)
        self._cache: dict[str, pl.DataFrame] = {}
        kpis = self.t(data.WEEKLY_KPIS)
        as_of = data.as_of_date(self.snap.data_as_of)
        active = kpis.filter((pl.col("gmv") > 0) | (pl.col("orders") > 0) | (pl.col("new_members") > 0))
        complete = sorted(w for w in active["week_start"].to_list() if data.is_complete(w, as_of))
        self.last = complete[-1]  # the default "this week"
        self.first = sorted(
            set(active["week_start"].to_list())
            | set(self.t(data.GROUP_VITALITY_WEEKLY)["week_start"].to_list())
            | set(self.t(data.DAC_CONTRIBUTION_WEEKLY)["week_start"].to_list())
        )[0]
        self.w_to = self.last - timedelta(weeks=4)  # the range the tests pick: 8 weeks ending a month ago
        self.w_from = self.w_to - timedelta(weeks=7)
        gv = self.t(data.GROUP_VITALITY_WEEKLY)
        alerts = self.t(data.GROUP_ALERTS).group_by("owner_member_id").len("alerts")
        served = self.t(data.MEMBER_LIFETIME).group_by("serving_dac_id").len("served")
        roots = self.t(data.REFERRAL_TREE_STATS).sort("tree_size", descending=True)["root_dac_id"].to_list()
        owners = (
            gv.filter(pl.col("week_start") == self.w_to)
            .group_by("owner_member_id")
            .agg(pl.col("group_id").n_unique().alias("groups"))
            .join(alerts, on="owner_member_id", how="left")
            .join(served, left_on="owner_member_id", right_on="serving_dac_id", how="left")
            .filter(pl.col("owner_member_id").is_in(roots[1:]))  # a tree root, not the biggest one
            .with_columns(pl.col("alerts", "served").fill_null(0))
            .sort(["groups", "alerts", "served", "owner_member_id"], descending=[True, True, True, False])
        )
        # a 大C with several groups (so the group filter narrows further), group alerts, members of their own and
        # a referral tree of their own (the fission page's default root is the biggest tree, so pick another)
        self.dac = owners["owner_member_id"][0]
        mine = gv.filter((pl.col("owner_member_id") == self.dac) & (pl.col("week_start") == self.w_to))
        self.group = mine.sort("members_end", descending=True)["group_id"][0]

    def t(self, name: str) -> pl.DataFrame:
        if name not in self._cache:
            df = pl.read_parquet(self.snap.path / f"{name}.parquet")
            dec = [c for c, tp in df.schema.items() if isinstance(tp, pl.Decimal)]
            self._cache[name] = df.with_columns(pl.col(dec).cast(pl.Float64))
        return self._cache[name]

    def week_query(self) -> dict:
        return {"from": _iso(self.w_from), "to": _iso(self.w_to)}


@pytest.fixture(scope="module")
def real(demo_home):
    return Real(demo_home)


@pytest.fixture
def app(real, monkeypatch):
    monkeypatch.setenv("XIAOSHUJU_HOME", str(real.home))

    def run(page, **query):
        at = make_app(page, timeout=180, lang="en", **query)
        assert not at.exception, (page, query, [e.message for e in at.exception])
        assert not at.error, (page, query, [e.value for e in at.error])
        return at

    return run


def _cards(at) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in at.metric:
        out.setdefault(m.label, []).append(m.value)
    return out


def _card(at, key: str, i: int = 0) -> str:
    return _cards(at)[metric_label(key, "en")][i]


def _table(at, *columns: str):
    """The one dataframe on the page having all these columns (raw column names; headers come from config)."""
    found = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert len(found) == 1, (columns, [list(d.value.columns) for d in at.dataframe])
    return found[0]


def _in(df: pl.DataFrame, lo, hi) -> pl.DataFrame:
    return df.filter(pl.col("week_start").is_between(lo, hi))


# ---- schema ----------------------------------------------------------------------------------------------------
def test_real_snapshot_matches_the_schema_the_test_snapshots_use(real):
    """If this fails a mart changed: regenerate with `python tests/dashboards/snapshot_factory.py --dump-schema
    <home>` and fix the pages the fast tests then flag."""
    assert schema_of(real.snap.path.parent) == real_schema()


def test_real_snapshot_has_every_column_the_pages_read(real):
    missing = {
        name: [c for c in cols if c not in real.t(name).columns]
        for name, cols in data.COLUMNS.items()
        if real.snap.has(name)
    }
    assert not {k: v for k, v in missing.items() if v}
    # every table the pages read is published, the check results included
    assert {n for n in data.COLUMNS if not real.snap.has(n)} == set()


# ---- overview ----------------------------------------------------------------------------------------------------
def test_overview_filters(real, app):
    kpis = real.t(data.WEEKLY_KPIS)
    gmv_at = dict(zip(kpis["week_start"].to_list(), kpis["gmv"].to_list(), strict=True))
    base = app("overview")
    assert _card(base, "gmv") == metric_format("gmv", gmv_at[real.last])
    assert metric_label("own_gmv", "en") not in _cards(base)  # no 大C cards without a 大C

    weeks = app("overview", **real.week_query())
    assert _card(weeks, "gmv") == metric_format("gmv", gmv_at[real.w_to]) != _card(base, "gmv")
    attr = _table(weeks, "Attribution method")
    group_row = attr[attr["Attribution method"] == "Group-based"].iloc[0]
    in_range = _in(kpis, real.w_from, real.w_to)
    assert group_row["Attributed to a 大C"] == pytest.approx(in_range["gmv_attr_group"].sum())
    assert group_row["Brand direct"] == pytest.approx(
        in_range["gmv"].sum() - in_range["gmv_attr_group"].sum()
    )

    dac = app("overview", dac=real.dac, **real.week_query())
    dcw = real.t(data.DAC_CONTRIBUTION_WEEKLY).filter(pl.col("dac_id") == real.dac)
    this = dcw.filter(pl.col("week_start") == real.w_to)
    assert _card(dac, "own_gmv") == metric_format("own_gmv", this["own_gmv"].sum())
    assert _card(dac, "members_served") == metric_format("members_served", this["members_served"].sum())
    attr = _table(dac, "Attribution method")
    group_row = attr[attr["Attribution method"] == "Group-based"].iloc[0]
    mine = _in(dcw, real.w_from, real.w_to)["gmv_group"].sum()
    assert group_row["Attributed to a 大C"] == pytest.approx(mine)
    assert mine < in_range["gmv_attr_group"].sum()

    grp = app("overview", dac=real.dac, group=real.group, **real.week_query())
    row = real.t(data.GROUP_VITALITY_WEEKLY).filter(
        (pl.col("group_id") == real.group) & (pl.col("week_start") == real.w_to)
    )
    assert _card(grp, "members_end") == metric_format("members_end", row["members_end"][0])
    assert _card(grp, "vitality_score") == metric_format("vitality_score", row["vitality_score"][0])
    assert metric_label("members_end", "en") not in _cards(dac)


# ---- members -----------------------------------------------------------------------------------------------------
def test_members_filters(real, app):
    ml = real.t(data.MEMBER_LIFETIME)
    mine = ml.filter(pl.col("serving_dac_id") == real.dac)
    in_group = mine.filter(pl.col("home_group_id") == real.group)
    counts = []
    for query, expected in (
        ({}, ml),
        ({"dac": real.dac}, mine),
        ({"dac": real.dac, "group": real.group}, in_group),
    ):
        at = app("members", **query)
        cards = _cards(at)
        assert cards["Members"] == [f"{expected.height:,}"], query
        buyers = expected.filter(pl.col("orders") > 0)
        assert _card(at, "historic_clv") == metric_format("historic_clv", buyers["historic_clv"].sum())
        counts.append(expected.height)
    assert counts[0] > counts[1] > counts[2] > 0
    # with a 大C: the at-risk list is theirs (high churn band), masked names only
    at_risk = _table(at, "member_id", "display_name_masked", "churn_band")
    assert set(at_risk["member_id"]) == set(in_group.filter(pl.col("churn_band") == "high")["member_id"])

    lw = real.t(data.MEMBER_LIFECYCLE_WEEKLY)
    new = value_label("new", "en")
    for query, lo, hi in (({}, real.first, real.last), (real.week_query(), real.w_from, real.w_to)):
        table = _table(app("members", **query), "week", new)
        expected = _in(lw, lo, hi)
        assert sorted(table["week"]) == sorted(_iso(w) for w in expected["week_start"])
        assert table[new].sum() == expected["n_new"].sum()
        assert table["gmv"].sum() == pytest.approx(expected["gmv"].sum())


# ---- groups ------------------------------------------------------------------------------------------------------
def test_groups_filters(real, app):
    gv = real.t(data.GROUP_VITALITY_WEEKLY)
    alerts = real.t(data.GROUP_ALERTS)
    names = dict(real.t(data.STAGING_GROUPS).select("group_id", "group_name").iter_rows())

    def ranking(at):
        return _table(at, "group", "owner", "score_speak_rate")

    def expect(df):
        return sorted(data.mask_group_name(names[g]) for g in df["group_id"])

    base = ranking(app("groups"))
    at_last = gv.filter(pl.col("week_start") == real.last)
    assert sorted(base["group"]) == expect(at_last)
    assert sorted(base["vitality_score"].round(6)) == sorted(at_last["vitality_score"].round(6).to_list())

    at = app("groups", **real.week_query())
    at_w = gv.filter(pl.col("week_start") == real.w_to)
    assert sorted(ranking(at)["vitality_score"].round(6)) == sorted(at_w["vitality_score"].round(6).to_list())
    assert any(h.value == f"Vitality ranking ({_iso(real.w_to)})" for h in at.header)
    assert sorted(ranking(at)["vitality_score"].round(6)) != sorted(base["vitality_score"].round(6))
    range_alerts = _in(alerts, real.w_from, real.w_to)

    at = app("groups", dac=real.dac, **real.week_query())
    mine = at_w.filter(pl.col("owner_member_id") == real.dac)
    assert 1 < mine.height < at_w.height
    assert sorted(ranking(at)["group"]) == expect(mine)
    my_alerts = range_alerts.filter(pl.col("owner_member_id") == real.dac)
    _alert_rows(at, my_alerts)

    at = app("groups", dac=real.dac, group=real.group, **real.week_query())
    assert list(ranking(at)["group"]) == expect(mine.filter(pl.col("group_id") == real.group))
    _alert_rows(at, my_alerts.filter(pl.col("group_id") == real.group))
    detail = _table(at, "week", "member_messages", "owner_share")  # the group's weekly trend
    one = _in(gv.filter(pl.col("group_id") == real.group), real.w_from, real.w_to)
    assert sorted(detail["week"]) == sorted(_iso(w) for w in one["week_start"])
    assert detail["messages"].sum() == one["messages"].sum()


def _alert_rows(at, expected: pl.DataFrame) -> None:
    tables = [
        d.value for d in at.dataframe if {"alert_type", "reason", "silence_days"} <= set(d.value.columns)
    ]
    if expected.height == 0:
        assert not tables and any(s.value == "No alerts this week." for s in at.success)
        return
    assert len(tables) == 1
    assert sorted(tables[0]["week"]) == sorted(_iso(w) for w in expected["week_start"])
    assert sorted(tables[0]["reason"]) == sorted(expected["reason_en"])


# ---- 大C ---------------------------------------------------------------------------------------------------------
def test_dac_page_filters(real, app):
    dcw = real.t(data.DAC_CONTRIBUTION_WEEKLY)
    conc = real.t(data.DAC_CONCENTRATION_WEEKLY).filter(pl.col("method") == "average")
    gini_at = dict(zip(conc["week_start"].to_list(), conc["gini"].to_list(), strict=True))

    def board(at):
        return _table(at, "rank", "dac", "gmv_attributed_avg")

    base = app("dac")
    all_range = _in(dcw, real.first, real.last)
    assert len(board(base)) == all_range["dac_id"].n_unique()
    assert _card(base, "gini") == metric_format("gini", gini_at[real.last])

    at = app("dac", **real.week_query())
    w = _in(dcw, real.w_from, real.w_to)
    assert len(board(at)) == w["dac_id"].n_unique()
    assert board(at)["own_gmv"].sum() == pytest.approx(w["own_gmv"].sum())
    assert board(at)["own_gmv"].sum() != pytest.approx(board(base)["own_gmv"].sum())
    assert _card(at, "gini") == metric_format("gini", gini_at[real.w_to])

    at = app("dac", dac=real.dac, **real.week_query())
    row = board(at)
    mine = w.filter(pl.col("dac_id") == real.dac)
    assert len(row) == 1
    assert row["own_gmv"][0] == pytest.approx(mine["own_gmv"].sum())
    assert row["gmv_group"][0] == pytest.approx(mine["gmv_group"].sum())
    # the drill-down: their groups in the range's last week, their members
    groups = _table(at, "group", "vitality_score", "lifecycle_state")
    gv = real.t(data.GROUP_VITALITY_WEEKLY)
    assert (
        len(groups)
        == gv.filter((pl.col("owner_member_id") == real.dac) & (pl.col("week_start") == real.w_to)).height
    )
    members = _table(at, "member_id", "display_name_masked", "home_group")
    ml = real.t(data.MEMBER_LIFETIME)
    assert len(members) == min(ml.filter(pl.col("serving_dac_id") == real.dac).height, 2000)
    alerts = [d.value for d in at.dataframe if {"alert_type", "silent_days"} <= set(d.value.columns)]
    expected = _in(real.t(data.DAC_ALERTS), real.w_from, real.w_to).filter(pl.col("dac_id") == real.dac)
    assert sum(len(a) for a in alerts) == expected.height


# ---- fission -----------------------------------------------------------------------------------------------------
def test_fission_filters(real, app):
    stats = real.t(data.REFERRAL_TREE_STATS).sort(["tree_size", "root_dac_id"], descending=[True, False])
    size_of = dict(zip(stats["root_dac_id"].to_list(), stats["tree_size"].to_list(), strict=True))
    base = app("fission")
    assert _card(base, "tree_size") == metric_format("tree_size", stats["tree_size"][0])  # the biggest tree
    at = app("fission", dac=real.dac)
    assert _card(at, "tree_size") == metric_format("tree_size", size_of[real.dac]) != _card(base, "tree_size")
    tree = _table(at, "member_id", "parent_id", "generation")
    assert len(tree) == real.t(data.REFERRAL_TREE).filter(pl.col("root_dac_id") == real.dac).height

    # promotions 小c → 大C: those promoted in the week range
    promoted = (
        real.t(data.REFERRAL_TREE)
        .filter(pl.col("generation") > 0)
        .join(real.t(data.DACS), left_on="member_id", right_on="dac_id")
    )

    def n_promoted(at) -> int:
        found = [d.value for d in at.dataframe if {"dac_since", "root"} <= set(d.value.columns)]
        return len(found[0]) if found else 0

    lo, hi = real.first, real.last + timedelta(days=6)
    assert n_promoted(base) == promoted.filter(pl.col("dac_since").is_between(lo, hi)).height > 0
    at = app("fission", **real.week_query())
    lo, hi = real.w_from, real.w_to + timedelta(days=6)
    assert n_promoted(at) == promoted.filter(pl.col("dac_since").is_between(lo, hi)).height
    assert n_promoted(at) < n_promoted(base)
