"""Incremental publish runs: the range comes from staging's metadata in the Dagster instance, and an incremental
run after one more week of exports gives the same weekly mart rows as a full rebuild."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from pipelines.increments import (
    FIRST_EVENT,
    MARTS_ALL,
    MARTS_TAG,
    NEW_FIRST_EVENT,
    STAGING_KEY,
    lookback_weeks,
    publish_range,
    staging_event_metadata,
)
from pipelines.partitions import full_history_range, week_key
from xiaoshuju.warehouse import connect

T0 = datetime(2026, 6, 3, 4, 0, tzinfo=UTC)  # a Wednesday
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _stage(instance, md: dict) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(STAGING_KEY, metadata=md))


@dg.op
def _noop():
    return None


@dg.job
def _marts_job():
    _noop()


def _publish(instance) -> None:
    """A successful run tagged as having rebuilt every mart (what a publish run leaves in the instance)."""
    assert _marts_job.execute_in_process(instance=instance, tags={MARTS_TAG: MARTS_ALL}).success


def test_staging_metadata_names_the_data_start_and_the_new_files_earliest_event(xhome):
    with connect(xhome.warehouse) as conn:
        conn.execute(
            "INSERT INTO landing.manifest (file_sha256, file_name, detected_format, status, first_seen_at, first_ts)"
            " VALUES ('new', 'b.csv', 'youzan_orders', 'registered', now(), ?),"  # a snapshot-like first_ts
            " ('cust', 'c.csv', 'youzan_customers', 'registered', now(), ?),"  # no event rows: its first_ts
            " ('lines', 'd.csv', 'youzan_order_lines', 'registered', now(), NULL)",  # no time at all
            [T0, T0 + timedelta(days=20)],
        )
        conn.execute(
            "INSERT INTO staging.orders (order_id, source, source_order_no, status, is_paid, created_at, paid_amount,"
            " net_amount, source_file_sha256) VALUES ('y:1', 'youzan', '1', 'paid', true, ?, 10, 10, 'old'),"
            " ('y:2', 'youzan', '2', 'refunded', true, ?, 10, 0, 'new')",  # a refund re-export of an old order
            [T0 - timedelta(days=7), T0 + timedelta(days=14)],
        )
        md = staging_event_metadata(conn, ["new", "cust", "lines"])
        assert md[FIRST_EVENT].value == (T0 - timedelta(days=7)).timestamp()
        # the staged rows of 'new' win over its manifest first_ts; 'cust' counts by first_ts; 'lines' by nothing
        assert md[NEW_FIRST_EVENT].value == (T0 + timedelta(days=14)).timestamp()
        assert (
            staging_event_metadata(conn, ["cust"])[NEW_FIRST_EVENT].value
            == (T0 + timedelta(days=20)).timestamp()
        )
        assert NEW_FIRST_EVENT not in staging_event_metadata(conn, ["lines"])
        assert NEW_FIRST_EVENT not in staging_event_metadata(conn, [])  # nothing ingested


def test_publish_range_full_then_incremental(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert publish_range(instance, now=NOW) is None  # no staging metadata: the caller falls back
        _stage(instance, {"files_ingested": 3})  # a staging version without the metadata
        assert publish_range(instance, now=NOW) is None
        first = dg.MetadataValue.timestamp(T0)
        _stage(instance, {FIRST_EVENT: first, NEW_FIRST_EVENT: first})
        (weeks, why) = publish_range(instance, now=NOW)
        assert weeks == (week_key(T0), full_history_range(NOW)[1]) and "no earlier publish" in why
        _publish(instance)
        # nothing new since the publish run started: only the week it started in → now
        (weeks, why) = publish_range(instance, now=NOW)
        assert weeks[0] == min(week_key(datetime.now(UTC)), weeks[1]) and "incremental" in why
        new = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)
        _stage(instance, {FIRST_EVENT: first, NEW_FIRST_EVENT: dg.MetadataValue.timestamp(new)})
        _stage(instance, {FIRST_EVENT: first, "files_ingested": 0})  # a staging run without new files
        (weeks, _) = publish_range(instance, now=NOW)
        expected = week_key(new - timedelta(weeks=lookback_weeks()))
        assert weeks == (min(expected, week_key(datetime.now(UTC))), full_history_range(NOW)[1])
        assert publish_range(instance, full=True, now=NOW)[0] == (week_key(T0), full_history_range(NOW)[1])
        _stage(instance, {"files_ingested": 1})  # the newest staging run lacks the metadata
        assert (
            publish_range(instance, now=NOW) is None
        )  # → the caller falls back (warehouse / all partitions)


def test_lookback_covers_the_marts_forward_reach():
    from assets.marts.dac_contribution.attribution import FIRST_TOUCH_GRACE_DAYS
    from assets.marts.group_vitality.build import REPLY_CAP_DAYS

    assert lookback_weeks() * 7 >= max(REPLY_CAP_DAYS, FIRST_TOUCH_GRACE_DAYS) + 7


# ---- incremental == full, on the real graph ----------------------------------------------------------------------
BUILD_COLUMNS = ("built_at", "computed_at", "updated_at", "created_at_build", "refreshed_at", "as_of_built")
# Columns that hold the CLV model's *latest* prediction rather than a fact of their week, so older weeks keep the
# value of the run that last built them: weekly_kpis.predicted_clv_12m_base (+ its wow) by design (see
# assets/marts/weekly_kpis/build.py) and dac_contribution_weekly.predicted_clv_12m and historic_clv (member_lifetime
# as of now, stamped on every week in the range; the week's own facts are own_gmv_to_date and referral_value_to_date).
# A fresh full rebuild stamps today's value on every week.
PATH_DEPENDENT = {
    ("weekly_kpis", "predicted_clv_12m_base"),
    ("weekly_kpis", "predicted_clv_12m_base_wow"),
    ("dac_contribution_weekly", "predicted_clv_12m"),
    ("dac_contribution_weekly", "historic_clv"),
}


def _norm(v):
    return round(v, 9) if isinstance(v, float) else v  # sums of doubles differ in the last bit by order


def weekly_tables(path) -> dict:
    """{table: sorted rows} of every marts table with a week_start column, build columns left out."""
    out = {}
    with connect(path, read_only=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'marts' "
            "AND column_name = 'week_start' ORDER BY 1"
        ).fetchall()
        for (t,) in tables:
            cols = [
                c
                for (c,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
                    "AND table_name = ? ORDER BY ordinal_position",
                    [t],
                ).fetchall()
                if c not in BUILD_COLUMNS and (t, c) not in PATH_DEPENDENT
            ]
            sel = ", ".join(f'"{c}"' for c in cols)
            rows = conn.execute(f'SELECT {sel} FROM marts."{t}"').fetchall()  # names from the catalog
            out[t] = (cols, sorted((tuple(_norm(v) for v in r) for r in rows), key=repr))
    return out


@pytest.mark.slow
# seed 4: the new week changes nothing old, so the second run rebuilds fewer weeks; seed 3: the new week's exports
# re-resolve join-notice nicknames of the first weeks (old memberships move to another member_id), so the second
# run must reach back to the first week (assets.staging.build._record_changes) — without that, weeks 2026-10-05/12
# of the 大C marts kept stale members_served and group GMV
@pytest.mark.parametrize(("seed", "partial"), [(4, True), (3, False)])
def test_incremental_run_after_one_more_week_equals_a_full_rebuild(tmp_path, monkeypatch, seed, partial):
    from pipelines.runner import materialize_all
    from xiaoshuju.settings import load_settings
    from xiaoshuju.simulator import simulate

    monkeypatch.setenv("XIAOSHUJU_HMAC_KEY", "test-secret-not-for-production")
    world = {"seed": seed, "weeks": 10, "members": 400, "groups": 6}
    inc = load_settings(tmp_path / "inc").ensure_dirs()
    full = load_settings(tmp_path / "full").ensure_dirs()

    monkeypatch.setenv("XIAOSHUJU_HOME", str(inc.home))
    monkeypatch.setenv("DAGSTER_HOME", str(inc.dagster_home))
    simulate("S", out_dir=inc.inbox, truth_dir=inc.ground_truth, through_week="2026-11-09", **world)
    first = materialize_all(inc)
    assert first["success"], first
    simulate("S", out_dir=inc.inbox, truth_dir=inc.ground_truth, from_week="2026-11-16", **world)
    second = materialize_all(inc)
    assert second["success"], second
    assert second["range_reason"].startswith("incremental"), second
    assert (second["partition_range"][0] > first["partition_range"][0]) == partial  # really fewer weeks?

    monkeypatch.setenv("XIAOSHUJU_HOME", str(full.home))
    monkeypatch.setenv("DAGSTER_HOME", str(full.dagster_home))
    simulate("S", out_dir=full.inbox, truth_dir=full.ground_truth, **world)
    rebuilt = materialize_all(full)
    assert rebuilt["success"], rebuilt
    assert rebuilt["partition_range"] == (first["partition_range"][0], second["partition_range"][1])

    got, want = weekly_tables(inc.warehouse), weekly_tables(full.warehouse)
    assert set(got) == set(want) and len(want) >= 5, sorted(want)
    for table, (cols, rows) in want.items():
        assert got[table][0] == cols, table
        inc_rows = got[table][1]
        diff = sorted(set(inc_rows) ^ set(rows), key=repr)[:6]
        assert inc_rows == rows, f"{table}: {len(inc_rows)} vs {len(rows)} rows; first differences {diff}"
