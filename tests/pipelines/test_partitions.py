from datetime import datetime
from zoneinfo import ZoneInfo

from pipelines import partitions as p

SH = ZoneInfo("Asia/Shanghai")


def test_week_key_is_monday_in_shanghai():
    # Sunday 23:30 Beijing is still the week that started Monday the 16th; Monday 00:10 Beijing is a new week,
    # even though it is still Sunday in UTC.
    assert p.week_key(datetime(2026, 11, 22, 23, 30, tzinfo=SH)) == "2026-11-16"
    assert p.week_key(datetime(2026, 11, 23, 0, 10, tzinfo=SH)) == "2026-11-23"
    assert p.week_key(datetime(2026, 11, 22, 16, 10, tzinfo=ZoneInfo("UTC"))) == "2026-11-23"


def test_previous_week_is_the_last_complete_one():
    assert p.previous_week_key(datetime(2026, 11, 23, 8, 0, tzinfo=SH)) == "2026-11-16"
    assert p.previous_week_key(datetime(2026, 11, 26, 12, 0, tzinfo=SH)) == "2026-11-16"


def test_full_history_range_runs_to_the_current_week():
    start, end = p.full_history_range(datetime(2026, 11, 26, 12, 0, tzinfo=SH))
    assert start == p.PARTITION_START
    assert end == "2026-11-23"  # the running week, as week-to-date
    keys = p.weekly_partitions.get_partition_keys(current_time=datetime(2026, 11, 26, 12, 0, tzinfo=SH))
    assert keys[-1] == end and all(datetime.strptime(k, "%Y-%m-%d").weekday() == 0 for k in keys)
    assert p.range_tags(start, end) == {
        "dagster/asset_partition_range_start": start,
        "dagster/asset_partition_range_end": end,
    }


def test_data_range_starts_at_the_first_event():
    import duckdb

    from xiaoshuju.warehouse import apply_schema

    now = datetime(2026, 11, 26, 12, 0, tzinfo=SH)
    conn = duckdb.connect()
    apply_schema(conn)
    assert p.first_event_at(conn) is None
    assert p.data_range(None, now) == ("2026-11-23", "2026-11-23")  # no data: just the current week
    conn.execute(
        "INSERT INTO staging.messages (message_id, group_id, sent_at, kind, source_format)"
        " VALUES ('m1', 'g1', TIMESTAMPTZ '2026-10-04 23:30:00+08', 'text', 'wechatmsg_chat')"
    )
    conn.execute(
        "INSERT INTO staging.orders (order_id, source, source_order_no, status, is_paid, created_at, paid_amount,"
        " net_amount, source_file_sha256) VALUES ('y:1','youzan','1','paid',true, TIMESTAMPTZ '2026-10-06 10:00:00+08',"
        " 10, 10, 'abc')"
    )
    first = p.first_event_at(conn)
    assert p.week_key(first) == "2026-09-28"  # Sunday 23:30 Beijing belongs to the week of Monday 28 Sept
    assert p.data_range(first, now) == ("2026-09-28", "2026-11-23")
    assert p.data_range(datetime(2001, 1, 1, tzinfo=SH), now) == (p.PARTITION_START, "2026-11-23")  # clamped
