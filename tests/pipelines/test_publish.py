"""Serving snapshot publishing: atomic flip, pruning, crash safety, and the reader API on top."""

import json
from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest

from assets.serving import publish as pub
from xiaoshuju.serving import NoSnapshotError, current_snapshot
from xiaoshuju.warehouse import apply_schema


@pytest.fixture
def wh(tmp_path):
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    apply_schema(conn)
    conn.execute(
        "CREATE TABLE marts.member_lifetime AS SELECT range AS n, 'm_' || range AS member_id FROM range(7)"
    )
    conn.execute("CREATE TABLE marts.group_vitality_weekly (group_id VARCHAR, score DOUBLE)")
    conn.execute("COMMENT ON COLUMN marts.group_vitality_weekly.score IS 'vitality 0-100'")
    conn.execute(
        "INSERT INTO staging.orders (order_id, source, source_order_no, status, is_paid, created_at, paid_amount,"
        " net_amount, source_file_sha256) VALUES ('y:1','youzan','1','paid',true, TIMESTAMPTZ '2026-11-20 10:00:00+08',"
        " 10, 10, 'abc')"
    )
    rows = [
        ("abc", "orders.csv", "youzan_orders", i, "bad_date", "订单创建时间 is not a date")
        for i in range(2, 80)
    ]
    rows.append(("abc", "orders.csv", "youzan_orders", 90, "negative_amount", "amount < 0"))
    conn.executemany(
        "INSERT INTO quarantine.rows (file_sha256, file_name, source_format, line_no, reason_code, reason,"
        " quarantined_at) VALUES (?, ?, ?, ?, ?, ?, now())",
        rows,
    )
    yield conn
    conn.close()


def test_publish_writes_every_table_and_flips_current(wh, tmp_path):
    serving = tmp_path / "serving"
    with pytest.raises(NoSnapshotError):
        current_snapshot(serving)
    res = pub.publish_snapshot(
        wh, serving, keep=3, extra_frames={"ops.alert_log": pl.DataFrame({"a": ["x"]})}
    )
    snap = current_snapshot(serving)
    assert snap.version == res.version
    assert snap.tables["marts.member_lifetime"] == 7
    assert snap.table("marts.member_lifetime")["member_id"].to_list()[:2] == ["m_0", "m_1"]
    assert snap.has("landing.manifest") and snap.has("ops.reconciliation") and snap.has("ops.alert_log")
    assert not snap.has("staging.orders")  # staging is not served, marts are
    summary = snap.table("quarantine.summary")
    assert dict(zip(summary["reason_code"], summary["rows_quarantined"], strict=True)) == {
        "bad_date": 78,
        "negative_amount": 1,
    }
    assert snap.tables["quarantine.rows_sample"] == pub.QUARANTINE_SAMPLE_PER_REASON + 1
    assert snap.data_as_of == "2026-11-20T02:00:00+00:00"
    cols = snap.meta["columns"]["marts.group_vitality_weekly"]
    assert {"name": "score", "type": "DOUBLE", "comment": "vitality 0-100"} in cols
    with pytest.raises(KeyError):
        snap.table("marts.nope")


def test_prune_keeps_n_newest_versions(wh, tmp_path):
    serving = tmp_path / "serving"
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    versions = [
        pub.publish_snapshot(wh, serving, keep=2, now=t0 + timedelta(minutes=i)).version for i in range(4)
    ]
    left = sorted(p.name for p in serving.iterdir() if p.is_dir())
    assert left == sorted(versions[-2:])
    assert current_snapshot(serving).version == versions[-1]


def test_killed_publish_leaves_previous_current(wh, tmp_path, monkeypatch):
    serving = tmp_path / "serving"
    first = pub.publish_snapshot(wh, serving, keep=5).version
    calls = {"n": 0}
    real = pub._write_parquet

    def dies_on_second_table(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed mid-export")
        return real(*a, **k)

    monkeypatch.setattr(pub, "_write_parquet", dies_on_second_table)
    with pytest.raises(KeyboardInterrupt):
        pub.publish_snapshot(wh, serving, keep=5)
    assert current_snapshot(serving).version == first
    assert any(p.name.startswith(pub.TMP_PREFIX) for p in serving.iterdir())  # the half-written version
    monkeypatch.setattr(pub, "_write_parquet", real)
    second = pub.publish_snapshot(wh, serving, keep=5).version
    assert current_snapshot(serving).version == second != first
    assert not any(p.name.startswith(pub.TMP_PREFIX) for p in serving.iterdir())  # swept


def test_reader_keeps_working_while_new_version_is_published(wh, tmp_path):
    serving = tmp_path / "serving"
    pub.publish_snapshot(wh, serving, keep=5)
    snap = current_snapshot(serving)
    lazy = snap.scan("marts.member_lifetime")
    wh.execute("INSERT INTO marts.member_lifetime VALUES (99, 'm_99')")
    pub.publish_snapshot(wh, serving, keep=5)
    assert lazy.collect().height == 7  # the old version is immutable
    assert current_snapshot(serving).table("marts.member_lifetime").height == 8


def test_corrupt_pointer_is_reported(tmp_path):
    serving = tmp_path / "serving"
    serving.mkdir()
    (serving / "CURRENT").write_text("v_missing\n")
    with pytest.raises(NoSnapshotError, match="missing or incomplete"):
        current_snapshot(serving)
    assert json.loads(json.dumps(pub.list_versions(serving))) == []


def test_published_manifest_masks_person_names_in_file_names(tmp_path):
    from datetime import UTC, datetime

    import duckdb

    from assets.serving.publish import publish_snapshot
    from xiaoshuju.serving import current_snapshot
    from xiaoshuju.warehouse import apply_schema

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_schema(conn)
    conn.execute(
        "INSERT INTO landing.manifest (file_sha256, file_name, archived_path, detected_format, status, first_seen_at)"
        " VALUES ('ab', '2026-11-16/liuhen/🏠任浩艳的生鲜社区团.csv', '/archive/ab/🏠任浩艳的生鲜社区团.csv',"
        " 'wechatmsg_chat', 'registered', ?)",
        [datetime.now(UTC)],
    )
    publish_snapshot(conn, tmp_path / "serving")
    manifest = current_snapshot(tmp_path / "serving").table("landing.manifest")
    (name,) = manifest["file_name"].to_list()
    assert "浩艳" not in name and name.endswith("的生鲜社区团.csv") and name.startswith("2026-11-16/liuhen/")
    assert "archived_path" not in manifest.columns
