"""Re-dropping a file changes nothing; a later export of the same orders wins (late refunds show)."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures"
# one orders export, one WeChat chat export and one WeCom archive: orders, memberships and messages to rebuild
ORDERS_CHAT_ARCHIVE = (
    "youzan_orders_bom.csv",
    "桃子团购群_12345678901@chatroom.csv",
    "wecom_archive_20240610.jsonl",
)


def _snapshot(home):
    return {
        t: home.q(f"SELECT * FROM staging.{t} ORDER BY ALL")
        for t in (
            "orders",
            "order_lines",
            "members",
            "member_identities",
            "groups",
            "group_memberships",
            "messages",
            "referrals",
        )
    } | {"q": home.q("SELECT file_sha256, line_no, reason_code FROM quarantine.rows ORDER BY ALL")}


def test_rerun_and_redrop_are_no_ops(home):
    for name in ORDERS_CHAT_ARCHIVE:
        home.drop_fixture(name)
    home.run()
    before = _snapshot(home)
    r = home.run()  # nothing new
    assert r.load.n_files == 0 and not r.rebuilt
    home.drop_fixture("youzan_orders_bom.csv", "again/订单数据 (1).csv")  # same bytes, other name
    r = home.run()
    assert r.load.n_files == 0
    assert _snapshot(home) == before
    assert home.one("SELECT seen_count FROM landing.manifest WHERE file_name = 'youzan_orders_bom.csv'") == 2


def _reexport(refund: str) -> bytes:
    text = (FIX / "youzan_orders_bom.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, first = rows[0], rows[1]
    first[header.index("订单退款状态")] = "退款成功（部分退款）"
    first[header.index("订单已退款金额")] = refund
    first[header.index("交易成功时间")] = "2024-10-20 12:00:00"  # the re-export is newer
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([header, first])
    return b"\xef\xbb\xbf" + buf.getvalue().encode()


def test_later_export_of_the_same_order_wins(home):
    home.drop_fixture("youzan_orders_bom.csv", "2024-10-07/youzan/订单数据.csv")
    home.run()
    oid = "youzan:E20241004114200000000001"
    assert home.one("SELECT refund_amount FROM staging.orders WHERE order_id = ?", [oid]) == Decimal("0.00")
    home.drop("2024-10-21/youzan/订单数据.csv", _reexport("20.00"))
    home.run()
    row = home.q(
        "SELECT refund_status, refund_amount, net_amount FROM staging.orders WHERE order_id = ?", [oid]
    )
    assert row == [("partial", Decimal("20.00"), Decimal("77.90"))]
    assert home.one("SELECT count(*) FROM staging.orders") == 3  # replaced, not duplicated


def test_files_over_several_runs_equal_one_run(home, tmp_path, monkeypatch):
    """Staging after files arrive over several runs (identities that merge later, a group detail after its
    chat, orders after members) equals staging after one run with every file: incremental work never drifts."""
    # the fixture's class and key ("from conftest import" would pick whichever tests/*/conftest.py loaded first)
    Home, HMAC = type(home), home.key.decode()

    order = [
        ["桃子团购群_12345678901@chatroom.csv", "wecom_archive_20240610.jsonl", "pywxdump_page1.csv"],
        ["groupchat_wrGroup0001.json", "invite_records_gb18030.csv"],
        [
            "youzan_orders_bom.csv",
            "youzan_order_lines.csv",
            "youzan_customers_12345678.csv",
            "ktt_orders.xlsx",
        ],
        ["shopify_orders.csv", "canonical_orders.csv", "youzan_orders_gb18030.csv"],
    ]
    for batch in order:
        for name in batch:
            home.drop_fixture(name)
        assert home.run().rebuilt
    monkeypatch.setenv("XIAOSHUJU_HMAC_KEY", HMAC)
    once = Home(tmp_path / "once")
    try:
        for batch in order:
            for name in batch:
                once.drop_fixture(name)
        once.run()
        a, b = _snapshot(home), _snapshot(once)
        for t in a:
            assert a[t] == b[t], t
    finally:
        once.conn.close()


def test_a_failed_rebuild_leaves_the_previous_staging_tables(home, monkeypatch, tmp_path):
    """Temp tables are built before the transaction, staging writes inside it: a failure in either phase leaves
    every staging table as the last good build left it."""
    import pytest

    from assets.staging import build

    for name in ORDERS_CHAT_ARCHIVE:
        home.drop_fixture(name)
    home.run()
    before = _snapshot(home)
    assert before["orders"] and before["messages"] and before["members"]
    # new files loaded but not built yet: a rebuild that got half-way would show their rows
    from assets.landing.register import register_inbox
    from assets.staging.load import load_pending

    home.drop_fixture("shopify_orders.csv")
    home.drop_fixture("pywxdump_page1.csv")
    register_inbox(home.conn, home.settings.inbox, home.settings.archive)
    assert load_pending(home.conn, home.settings).n_files == 2

    def broken_step(conn):
        raise RuntimeError("first responses failed")

    monkeypatch.setitem(build.PY_STEPS, "first_responses", broken_step)
    with pytest.raises(RuntimeError, match="first responses failed"):
        build.rebuild_staging(home.conn)
    assert _snapshot(home) == before
    monkeypatch.undo()

    # the last staging write breaks a NOT NULL column: the writes before it (orders, messages, …) roll back too
    sql = (
        build.BUILD_SQL.read_text(encoding="utf-8")
        + "\nINSERT INTO staging.members (member_id) VALUES (NULL);\n"
    )
    broken = tmp_path / "build.sql"
    broken.write_text(sql, encoding="utf-8")
    monkeypatch.setattr(build, "BUILD_SQL", broken)
    with pytest.raises(Exception, match="NOT NULL"):
        build.rebuild_staging(home.conn)
    assert _snapshot(home) == before
    monkeypatch.undo()
    build.rebuild_staging(home.conn)
    after = _snapshot(home)
    assert len(after["orders"]) > len(before["orders"]) and len(after["messages"]) > len(before["messages"])


def test_a_batch_that_fails_on_the_reader_thread_is_retried_file_by_file(home, monkeypatch):
    """Batches are parsed one ahead on a worker thread; an unexpected error there reaches the main thread, which
    retries the batch's files one by one: the good file loads, the bad one gets a file-level quarantine row."""
    from assets.staging import load

    text = (FIX / "shopify_orders.csv").read_text(encoding="utf-8")
    home.drop("a/orders_a.csv", text)
    home.drop("b/orders_b.csv", text.replace("#1001", "#2001").replace("#1002", "#2002"))
    home.drop_fixture("youzan_orders_bom.csv")  # another batch, parsed while the shopify one is written
    real_parse, calls = load._parse, []

    def flaky_parse(fmt, rs, settings):
        calls.append(sorted(r["file_name"] for r in rs))
        if fmt == "shopify_orders" and (len(rs) > 1 or rs[0]["file_name"] == "b/orders_b.csv"):
            raise RuntimeError("reader blew up")
        return real_parse(fmt, rs, settings)

    monkeypatch.setattr(load, "_parse", flaky_parse)
    r = home.run()
    assert ["a/orders_a.csv", "b/orders_b.csv"] in calls and ["b/orders_b.csv"] in calls
    by_name = {f.file_name: f for f in r.load.files}
    assert by_name["a/orders_a.csv"].rows_loaded == 3 and by_name["a/orders_a.csv"].problem is None
    assert (
        by_name["b/orders_b.csv"].rows_loaded == 0 and "reader blew up" in by_name["b/orders_b.csv"].problem
    )
    assert (
        by_name["youzan_orders_bom.csv"].problem is None and by_name["youzan_orders_bom.csv"].rows_loaded > 0
    )
    assert home.q("SELECT reason_code FROM quarantine.rows WHERE file_name = 'b/orders_b.csv'") == [
        ("contract_violation",)
    ]
    orders = {o for (o,) in home.q("SELECT order_id FROM staging.orders WHERE source = 'shopify'")}
    assert orders == {"shopify:#1001", "shopify:#1002"}


def test_a_message_in_overlapping_exports_counts_once(home):
    """Two archive exports that share messages (an export window overlapping the previous one): each message is
    staged once, from its first (file, line) — here the shared ones by the smaller file sha256."""
    import hashlib

    lines = (FIX / "wecom_archive_20240610.jsonl").read_bytes().splitlines(keepends=True)
    a, b = b"".join(lines[0:3]), b"".join(lines[1:4])  # messages 1-3 and 2-4
    home.drop("2024-06-10/wecom/archive_a.jsonl", a)
    home.drop("2024-06-17/wecom/archive_b.jsonl", b)
    home.run()
    assert home.one("SELECT count(*) FROM ingest.messages") == 6
    rows = home.q("SELECT message_id, source_file_sha256 FROM staging.messages ORDER BY message_id")
    sha_a, sha_b = hashlib.sha256(a).hexdigest(), hashlib.sha256(b).hexdigest()
    first = min(sha_a, sha_b)
    assert rows == [
        ("wecom:6530000000000000001_1718000000", sha_a),
        ("wecom:6530000000000000002_1718000100", first),
        ("wecom:6530000000000000003_1718000200", first),
        ("wecom:6530000000000000004_1718000300", sha_b),
    ]


def test_a_rebuild_reports_the_earliest_row_it_changed(home):
    """``staging_rebuild_changes``: on the first build (nothing staged before) every tracked row is new, so the
    earliest event of all of them; a rebuild that changes nothing, NULL; a late refund, that order's time."""
    from assets.staging import build

    def changed():
        return home.one("SELECT first_changed_at FROM staging_rebuild_changes")

    def earliest_tracked():
        tables = " UNION ALL ".join(f"SELECT {c} AS t FROM staging.{t}" for t, c in build.CHANGE_TRACKED)
        return home.one(f"SELECT min(t) FROM ({tables})")

    for name in ORDERS_CHAT_ARCHIVE:
        home.drop_fixture(name)
    assert home.run().rebuilt
    first = changed()
    assert first is not None and first == earliest_tracked()

    build.rebuild_staging(home.conn)
    assert changed() is None

    home.drop("2024-10-21/youzan/订单数据.csv", _reexport("20.00"))
    assert home.run().rebuilt
    oid = "youzan:E20241004114200000000001"
    assert changed() == home.one("SELECT created_at FROM staging.orders WHERE order_id = ?", [oid])


def _lines_export(rows: list[tuple[str, str, str, str]]) -> bytes:
    """A 商品数据 export like the fixture's, one row per (order no, product, unit price, quantity)."""
    text = (FIX / "youzan_order_lines.csv").read_bytes().decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for order_no, product, price, qty in rows:
        row = [""] * len(header)
        amount = f"{Decimal(price) * int(qty):.2f}"
        for col, v in (
            ("订单号", order_no),
            ("商品名称", product),
            ("商品单价", price),
            ("商品数量", qty),
            ("商品金额小计", amount),
            ("商品实际成交金额", amount),
            ("商品已退款金额", "0"),
        ):
            row[header.index(col)] = v
        w.writerow(row)
    return b"\xef\xbb\xbf" + buf.getvalue().encode()


def test_an_orders_lines_come_from_the_newest_file_that_lists_it(home):
    """A later 商品数据 export replaces an order's lines (all of them: a line it no longer lists is gone); an order it
    does not list keeps the lines of the file that last did. Files of one run: the later name wins."""
    one, three = "E20241004114200000000001", "E20241006100000000000003"

    def lines():
        return home.q(
            "SELECT order_id, line_no, product_name, quantity FROM staging.order_lines ORDER BY order_id, line_no"
        )

    home.drop_fixture("youzan_order_lines.csv", "2024-10-07/youzan/商品数据.csv")
    home.run()
    assert lines() == [(f"youzan:{one}", 1, "桃子", 1), (f"youzan:{three}", 1, "梨", 2)]

    home.drop(
        "2024-10-14/youzan/商品数据.csv",
        _lines_export([(one, "苹果", "10.00", "3"), (one, "桃子", "89.90", "2")]),
    )
    home.run()
    assert lines() == [
        (f"youzan:{one}", 1, "苹果", 3),
        (f"youzan:{one}", 2, "桃子", 2),
        (f"youzan:{three}", 1, "梨", 2),
    ]

    home.drop("2024-10-21/youzan/商品数据 (2).csv", _lines_export([(three, "梨", "60.00", "7")]))
    home.drop(
        "2024-10-21/youzan/商品数据 (1).csv",
        _lines_export([(three, "梨", "60.00", "5"), (one, "桃子", "89.90", "9")]),
    )
    home.run()
    assert lines() == [
        (f"youzan:{one}", 1, "桃子", 9),
        (f"youzan:{three}", 1, "梨", 7),
    ]


def test_an_empty_secret_stops_the_load_before_any_file_is_consumed(home, monkeypatch):
    monkeypatch.delenv("XIAOSHUJU_HMAC_KEY")
    (home.settings.home / "secret.key").write_text("")
    home.drop_fixture("youzan_orders_bom.csv")
    with pytest.raises(ValueError, match="secret.key is empty"):
        home.run()
    # nothing loaded, nothing quarantined, the file still pending for the run after the secret is restored
    assert home.one("SELECT count(*) FROM landing.manifest WHERE ingested_at IS NULL") == 1
    assert home.one("SELECT count(*) FROM quarantine.rows") == 0
    assert home.one("SELECT count(*) FROM ingest.orders") == 0
    (home.settings.home / "secret.key").write_text("0" * 64)
    home.run()
    assert home.one("SELECT count(*) FROM landing.manifest WHERE ingested_at IS NULL") == 0
    assert home.one("SELECT count(*) FROM ingest.orders") > 0
