"""Landing: every inbox file is registered once by content hash, archived byte for byte, problems named."""

import duckdb
import pytest

from assets.landing.register import hash_and_count, register_inbox
from xiaoshuju.warehouse import apply_schema

YOUZAN_HEADER = (
    "订单号,销售渠道,归属店铺,订单类型,订单状态,推广方式,订单来源,订单创建时间,买家付款时间,交易成功时间,付款方式,支付流水号,"
    "商品金额合计,运费,店铺优惠合计,应收订单金额,订单实付金额,支付优惠合计,订单实收金额,订单抵用积分数,店铺优惠方式,支付优惠方式,"
    "全部商品名称,商品种类数,订单配送方式,同城送达时间/提货时间,收货人省份,收货人城市,收货人地区,详细收货地址/提货地址,收货人/提货人,"
    "收货人手机号/提货人手机号,买家备注,订单星级,买家昵称,买家是否会员,买家手机号,下单网点,收银员,分销员,销售导购,专属导购,"
    "订单退款状态,订单已退款金额,商家订单备注,桌号,挂账主体,挂账手机号,团长订单,订单风险标签,分销员,分销员手机号,分销员所属店铺,"
    "分销员所属团队,分销员所属分组,分销员等级,订单佣金类型,订单佣金金额,订单下级卖货提成类型,订单下级卖货提成金额"
)
CHAT_HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"


def _youzan_row(order_no: str) -> str:
    cells = [""] * 60
    cells[0] = order_no
    cells[7] = "2026-11-02 10:00:00"
    cells[16] = "89.90"
    return ",".join(cells)


@pytest.fixture
def conn(xhome):
    c = duckdb.connect(str(xhome.warehouse))
    apply_schema(c)
    yield c
    c.close()


def _manifest(conn):
    return conn.execute(
        "SELECT file_name, detected_format, encoding, row_count, status, problem, seen_count "
        "FROM landing.manifest ORDER BY file_name"
    ).fetchall()


def test_registers_detects_archives_and_counts(conn, xhome):
    orders = (YOUZAN_HEADER + "\n" + _youzan_row("E1") + "\n" + _youzan_row("E2") + "\n").encode("utf-8-sig")
    chat = (CHAT_HEADER + "\n1,123@chatroom,1,0,0,1762000000,2,你好,2025-11-01 20:26:40,,小王,wxid_a\n").encode("utf-8-sig")
    (xhome.inbox / "batch1").mkdir()
    (xhome.inbox / "batch1" / "订单数据.csv").write_bytes(orders)
    (xhome.inbox / "chat.csv").write_bytes(chat)

    report = register_inbox(conn, xhome.inbox, xhome.archive)

    assert report.n_new == 2 and report.problems == []
    rows = {r[0]: r for r in _manifest(conn)}
    assert rows["batch1/订单数据.csv"][1:5] == ("youzan_orders", "utf-8-sig", 2, "registered")
    assert rows["chat.csv"][1:5] == ("wechatmsg_chat", "utf-8-sig", 1, "registered")
    # originals archived byte for byte under their hash; inbox emptied
    sha, size, _ = hash_and_count(next(xhome.archive.rglob("订单数据.csv")))
    assert size == len(orders)
    assert conn.execute("SELECT size_bytes FROM landing.manifest WHERE file_sha256 = ?", [sha]).fetchone()[0] == size
    assert next(xhome.archive.rglob("订单数据.csv")).read_bytes() == orders
    assert not any(p.is_file() for p in xhome.inbox.rglob("*"))


def test_same_file_twice_is_a_noop(conn, xhome):
    data = (YOUZAN_HEADER + "\n" + _youzan_row("E1") + "\n").encode("utf-8")
    (xhome.inbox / "a.csv").write_bytes(data)
    register_inbox(conn, xhome.inbox, xhome.archive)
    before = _manifest(conn)
    # dropped again, under another name: same content hash → no new row
    (xhome.inbox / "copy of a.csv").write_bytes(data)
    report = register_inbox(conn, xhome.inbox, xhome.archive)
    after = _manifest(conn)
    assert report.n_new == 0 and report.duplicates == ["copy of a.csv"]
    assert len(after) == len(before) == 1
    assert after[0][6] == 2  # seen twice
    # a third run over an empty inbox changes nothing
    assert register_inbox(conn, xhome.inbox, xhome.archive).n_new == 0
    assert _manifest(conn) == after


def test_unknown_empty_binary_reported_by_name_without_stopping(conn, xhome):
    (xhome.inbox / "empty.csv").write_bytes(b"")
    (xhome.inbox / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(200))
    (xhome.inbox / "random.csv").write_text("foo,bar,baz\n1,2,3\n", encoding="utf-8")
    (xhome.inbox / "latin1.csv").write_bytes(b"name\n" + bytes([0xFF, 0xFE, 0xFA, 0x80, 0x81]) * 3)
    (xhome.inbox / "good.csv").write_bytes((CHAT_HEADER + "\n").encode("utf-8"))

    report = register_inbox(conn, xhome.inbox, xhome.archive)

    by_name = {p["file_name"]: p for p in report.problems}
    assert set(by_name) == {"empty.csv", "photo.jpg", "random.csv", "latin1.csv"}
    assert by_name["empty.csv"]["status"] == "empty"
    assert by_name["photo.jpg"]["status"] == "binary"
    assert by_name["random.csv"]["status"] == "unknown_format"
    assert "foo, bar, baz" in by_name["random.csv"]["problem"]
    assert by_name["latin1.csv"]["status"] == "unreadable"
    statuses = {r[0]: r[4] for r in _manifest(conn)}
    assert statuses["good.csv"] == "registered"
    assert len(statuses) == 5


def test_gb18030_and_wecom_jsonl_detected(conn, xhome):
    ktt = "跟团号,下单人,团员备注,支付时间,团长备注,商品,订单金额,退款金额,订单状态,自提点,收货人,联系电话,详细地址\n1,张三,,2026/10/4 11:42,,苹果,10,0,已支付,,张三,13800000000,某地\n"
    (xhome.inbox / "ktt.csv").write_bytes(ktt.encode("gb18030"))
    (xhome.inbox / "wecom.jsonl").write_text(
        '{"msgid":"1","action":"send","from":"wmA","tolist":[],"roomid":"wr1","msgtime":1718000000123,"msgtype":"text","text":{"content":"hi"}}\n'
        '{"msgid":"2","action":"send","from":"wmB","tolist":[],"roomid":"wr1","msgtime":1718000000456,"msgtype":"text","text":{"content":"ok"}}\n',
        encoding="utf-8",
    )
    register_inbox(conn, xhome.inbox, xhome.archive)
    rows = {r[0]: r for r in _manifest(conn)}
    assert rows["ktt.csv"][1:4] == ("ktt_orders", "gb18030", 1)
    assert rows["wecom.jsonl"][1:4] == ("wecom_archive", "utf-8", 2)


def test_copy_in_same_batch_keeps_the_original_name(conn, xhome):
    data = (CHAT_HEADER + "\n").encode("utf-8")
    for name in ("订单数据 (1).csv", "订单数据 - 副本.csv", "订单数据.csv"):
        (xhome.inbox / name).write_bytes(data)
    report = register_inbox(conn, xhome.inbox, xhome.archive)
    assert [r["file_name"] for r in report.new_files] == ["订单数据.csv"]
    assert sorted(report.duplicates) == ["订单数据 (1).csv", "订单数据 - 副本.csv"]
