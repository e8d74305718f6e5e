"""Malformed exports: each case asserts exactly which records are quarantined, with which reason code, that the
file reconciles (rows in = loaded + quarantined) and that file-level problems name the file."""

import csv
import io
import json
from pathlib import Path

import pytest

FORMATS = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _header(name: str) -> list[str]:
    p = FORMATS / name
    if p.exists():
        return p.read_text(encoding="utf-8").strip().split(",")
    raise FileNotFoundError(p)


YZ = [
    "订单号,销售渠道,归属店铺,订单类型,订单状态,推广方式,订单来源,订单创建时间,买家付款时间,交易成功时间,付款方式,支付流水号,"
    "商品金额合计,运费,店铺优惠合计,应收订单金额,订单实付金额,支付优惠合计,订单实收金额,订单抵用积分数,店铺优惠方式,支付优惠方式,"
    "全部商品名称,商品种类数,订单配送方式,同城送达时间/提货时间,收货人省份,收货人城市,收货人地区,详细收货地址/提货地址,收货人/提货人,"
    "收货人手机号/提货人手机号,买家备注,订单星级,买家昵称,买家是否会员,买家手机号,下单网点,收银员,分销员,销售导购,专属导购,订单退款状态,"
    "订单已退款金额,商家订单备注,桌号,挂账主体,挂账手机号,团长订单,订单风险标签,分销员,分销员手机号,分销员所属店铺,分销员所属团队,"
    "分销员所属分组,分销员等级,订单佣金类型,订单佣金金额,订单下级卖货提成类型,订单下级卖货提成金额"
][0].split(",")


def yz_row(no="E20241004114200000000001", **kv) -> list[str]:
    r = [""] * len(YZ)
    base = {
        "订单号": no,
        "订单状态": "交易成功",
        "订单创建时间": "2024-10-04 11:42:00",
        "买家付款时间": "2024-10-04 11:43:00",
        "订单实付金额": "89.90",
        "应收订单金额": "89.90",
        "买家手机号": "\t13800001111",
        "买家昵称": "王小花",
    }
    base.update(kv)
    for k, v in base.items():
        r[YZ.index(k)] = v
    return r


def csv_bytes(header, rows, bom=True, enc="utf-8", end="\r\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=end)
    w.writerow(header)
    for r in rows:
        if isinstance(r, str):
            buf.write(r + end)
        else:
            w.writerow(r)
    data = buf.getvalue().encode(enc)
    return (b"\xef\xbb\xbf" + data) if bom and enc == "utf-8" else data


def yz(*rows, **kw) -> bytes:
    return csv_bytes(YZ, list(rows), **kw)


LINES_H = _header("youzan_order_lines_商品数据.header.csv")


def line_row(**kv):
    r = [""] * len(LINES_H)
    base = {
        "订单号": "E20241004114200000000001",
        "商品名称": "桃子",
        "商品单价": "10.00",
        "商品数量": "1",
        "商品实际成交金额": "10.00",
    }
    base.update(kv)
    for k, v in base.items():
        r[LINES_H.index(k)] = v
    return r


CUST_H = (FORMATS / "youzan_customers_客户数据.header.csv").read_text(encoding="utf-8").strip()
CUST_NAMES = CUST_H.split(",")


def cust_line(**kv) -> str:
    r = [""] * len(CUST_NAMES)
    base = {"客户昵称": "六六", "客户手机号": "13700003333", "成为客户时间": "2024-10-05 12:00:00"}
    base.update(kv)
    for k, v in base.items():
        r[CUST_NAMES.index(k)] = v
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(r)
    return buf.getvalue()


def cust(*lines) -> bytes:
    return ("\ufeff" + CUST_H + "\r\n" + "".join(line + "\r\n" for line in lines)).encode("utf-8")


INV_H = "邀请人ID,邀请人昵称,邀请人手机号,被邀请人ID,被邀请人昵称,被邀请人手机号,邀请时间,被邀请人订单数,来源".split(
    ","
)


def inv_row(**kv):
    base = dict(
        zip(
            INV_H,
            [
                "1000000001",
                "李团长",
                "13900002222",
                "1000000002",
                "六六",
                "13700003333",
                "2024-10-05 08:00:00",
                "1",
                "邀请有礼",
            ],
            strict=True,
        )
    )
    base.update(kv)
    return [base[h] for h in INV_H]


WX_H = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender".split(
    ","
)


def wx_row(i, sender="wxid_member0000001", t="1728013320", typ="1", content="你好"):
    return [
        str(i),
        "12345678901@chatroom",
        typ,
        "0",
        "0",
        t,
        "3",
        content,
        "2024-10-04 11:42:00",
        "",
        "王小花",
        sender,
    ]


def jl(*objs) -> bytes:
    return "".join(
        (o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)) + "\n" for o in objs
    ).encode()


MSG = {
    "msgid": "1",
    "action": "send",
    "from": "wmAbc001",
    "tolist": ["x"],
    "roomid": "wrG1",
    "msgtime": 1718000000123,
    "msgtype": "text",
    "text": {"content": "hi"},
}


def _ktt_bad_date() -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(
        0,
        0,
        "跟团号,下单人,团员备注,支付时间,团长备注,商品,订单金额,退款金额,订单状态,自提点,收货人,联系电话,详细地址".split(
            ","
        ),
    )
    ws.write_row(
        1,
        0,
        ["1", "甲", "", "2024-10-04 11:00:00", "", "桃", "10", "0", "已完成", "", "甲", "13800001111", ""],
    )
    ws.write_row(
        2,
        0,
        ["2", "乙", "", "2024-13-45 25:61:00", "", "桃", "10", "0", "已完成", "", "乙", "13800002222", ""],
    )
    wb.close()
    return buf.getvalue()


big_prefix = [yz_row(no=f"E2024100411420000000{i:04d}") for i in range(3000)]

# (case id, file name, bytes, expected quarantine [(line, code)], expected rows loaded)
CASES = [
    (
        "bad_date_created",
        "o.csv",
        yz(yz_row(), yz_row(no="E20241004114200000000002", 订单创建时间="2026-13-45 25:61:00")),
        [(3, "bad_date")],
        1,
    ),
    ("bad_date_na_paid", "o.csv", yz(yz_row(买家付款时间="N/A")), [(2, "bad_date")], 0),
    (
        "bad_date_zeros",
        "o.csv",
        yz(yz_row(交易成功时间="0000-00-00 00:00:00"), yz_row(no="E20241004114200000000002")),
        [(2, "bad_date")],
        1,
    ),
    ("negative_amount", "o.csv", yz(yz_row(订单实付金额="-89.90")), [(2, "negative_amount")], 0),
    ("negative_zero_amount", "o.csv", yz(yz_row(运费="-0")), [(2, "negative_amount")], 0),
    ("bad_number_letter_o", "o.csv", yz(yz_row(订单实付金额="12.3O")), [(2, "bad_number")], 0),
    ("bad_number_comma", "o.csv", yz(yz_row(订单实付金额="1,2.5")), [(2, "bad_number")], 0),
    ("missing_order_no", "o.csv", yz(yz_row(), yz_row(no="")), [(3, "missing_id")], 1),
    ("missing_order_no_tab_only", "o.csv", yz(yz_row(no="\t")), [(2, "missing_id")], 0),
    (
        "broken_row_short",
        "o.csv",
        yz(yz_row(), ",".join(yz_row(no="E20241004114200000000002")[:-2])),
        [(3, "broken_row")],
        1,
    ),
    (
        "broken_row_long",
        "o.csv",
        yz(yz_row() + ["extra"], yz_row(no="E20241004114200000000002")),
        [(2, "broken_row")],
        1,
    ),
    ("duplicate_order_no", "o.csv", yz(yz_row(), yz_row()), [(3, "duplicate_key")], 1),
    ("order_no_shape", "o.csv", yz(yz_row(no="订单 一")), [(2, "contract_violation")], 0),
    (
        "multiline_field_keeps_physical_lines",
        "o.csv",
        yz(yz_row(买家备注="第一行\n第二行"), yz_row(no="E20241004114200000000002", 订单实付金额="abc")),
        [(4, "bad_number")],
        1,
    ),
    (
        "lines_negative",
        "l.csv",
        csv_bytes(LINES_H, [line_row(), line_row(商品实际成交金额="-10.00")]),
        [(3, "negative_amount")],
        1,
    ),
    ("lines_bad_unit_price", "l.csv", csv_bytes(LINES_H, [line_row(商品单价="abc")]), [(2, "bad_number")], 0),
    ("customers_missing_phone", "c.csv", cust(cust_line(), cust_line(客户手机号="")), [(3, "missing_id")], 1),
    (
        "customers_broken_row",
        "c.csv",
        cust(cust_line(), cust_line().rsplit(",", 2)[0]),
        [(3, "broken_row")],
        1,
    ),
    ("customers_negative_spent", "c.csv", cust(cust_line(消费金额="-12.00")), [(2, "negative_amount")], 0),
    (
        "invites_missing_invitee",
        "i.csv",
        csv_bytes(INV_H, [inv_row(被邀请人ID="")], enc="gb18030", bom=False),
        [(2, "missing_id")],
        0,
    ),
    (
        "invites_bad_count",
        "i.csv",
        csv_bytes(INV_H, [inv_row(), inv_row(被邀请人订单数="abc")]),
        [(3, "bad_number")],
        1,
    ),
    (
        "wechat_missing_sender",
        "w.csv",
        csv_bytes(
            WX_H,
            [
                wx_row(1),
                wx_row(2, sender=""),
                wx_row(3, sender="", typ="10000", content='你邀请"甲"加入了群聊'),
            ],
        ),
        [(3, "missing_id")],
        2,
    ),
    (
        "wechat_bad_createtime",
        "w.csv",
        csv_bytes(WX_H, [wx_row(1, t="2026-13-45 25:61:00"), wx_row(2, t="N/A")]),
        [(2, "bad_date"), (3, "bad_date")],
        0,
    ),
    ("wechat_duplicate_localid", "w.csv", csv_bytes(WX_H, [wx_row(1), wx_row(1)]), [(3, "duplicate_key")], 1),
    (
        "wecom_bad_json_line",
        "a.jsonl",
        jl(MSG, '{"msgid": "2", "action": "send", "fr', {**MSG, "msgid": "3"}),
        [(2, "bad_json")],
        2,
    ),
    (
        "wecom_missing_msgid",
        "a.jsonl",
        jl(MSG, {k: v for k, v in MSG.items() if k != "msgid"}),
        [(2, "missing_id")],
        1,
    ),
    (
        "wecom_first_line_without_msgid",
        "a.jsonl",
        jl({k: v for k, v in MSG.items() if k != "msgid"}, MSG),
        [(1, "missing_id")],
        1,
    ),
    (
        "wecom_line_cut_inside_a_character",
        "a.jsonl",
        jl(MSG)
        + json.dumps({**MSG, "msgid": "2", "text": {"content": "今晚八点开团"}}, ensure_ascii=False).encode()[
            :-9
        ]
        + b"\n"
        + jl({**MSG, "msgid": "3"}),
        [(2, "bad_json")],
        2,
    ),
    (
        "wecom_blank_lines_keep_numbers",
        "a.jsonl",
        jl(MSG, "", {**MSG, "msgid": "2", "msgtime": "soon"}),
        [(3, "bad_date")],
        1,
    ),
    (
        "wecom_detail_bad_json",
        "g.json",
        b'{"errcode":0,"group_chat":{"chat_id":"wr1",\n',
        [(1, "bad_json")],
        0,
    ),
    ("ktt_xlsx_bad_date", "k.xlsx", _ktt_bad_date(), [(3, "bad_date")], 1),
    ("empty_file", "e.csv", b"", [(None, "empty_file")], 0),
    ("header_only", "h.csv", yz(), [(None, "empty_file")], 0),
    ("binary_file", "b.csv", b"\x00\x01\x02garbage\x00" * 50, [(None, "binary_file")], 0),
    ("unknown_layout", "u.csv", b"foo,bar,baz\r\n1,2,3\r\n", [(None, "unknown_layout")], 0),
    (
        "missing_columns",
        "m.csv",
        csv_bytes([h for h in YZ if h != "订单状态"], [yz_row()[:-1]]),
        [(None, "missing_columns")],
        0,
    ),
    (
        "truncated_mid_row",
        "t.csv",
        yz(yz_row(), yz_row(no="E20241004114200000000002"))[:-40],
        [(None, "truncated")],
        0,
    ),
    (
        "truncated_last_field",
        "t.csv",
        yz(yz_row(), yz_row(no="E20241004114200000000002"))[:-2],
        [(None, "truncated")],
        0,
    ),
    (
        "bad_encoding_in_sample",
        "x.csv",
        yz(yz_row()).replace(b"\r\n", b"\r\n\xff\xfe\xff", 1),
        [(None, "bad_encoding")],
        0,
    ),
    # the bad bytes sit beyond landing's 256 KB sample: staging's reader finds them
    (
        "bad_encoding_after_sample",
        "x.csv",
        yz(*big_prefix) + b"\xff\xfe\xff\r\n",
        [(None, "bad_encoding")],
        0,
    ),
    ("corrupt_xlsx", "k.xlsx", b"PK\x03\x04" + b"\x00garbage" * 20, [(None, "truncated")], 0),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_file(home, case):
    _cid, name, data, expected, loaded = case
    home.drop(name, data)
    report = home.run()
    got = [(ln, code) for _f, ln, code in home.quarantine()]
    assert got == expected
    rows_in, rows_loaded, rows_q, ok = home.q(
        "SELECT rows_in, rows_loaded, rows_quarantined, reconciled FROM ops.reconciliation"
    )[0]
    assert ok and rows_in == rows_loaded + rows_q
    assert rows_loaded == loaded
    assert home.one("SELECT sum(records) FROM quarantine.rows") == rows_q
    if expected[0][0] is None:  # file-level: the message names the file and says what is wrong
        reason = home.one("SELECT reason FROM quarantine.rows")
        assert name in reason and len(reason) > 40
        assert any(f.problem and name in f.problem for f in report.load.files)
        # nothing of a file-level failure reaches staging
        assert home.one("SELECT count(*) FROM ingest.orders") == 0
    assert home.one("SELECT ingested_at IS NOT NULL FROM landing.manifest") is True


def test_quarantine_preview_is_masked(home):
    home.drop("o.csv", yz(yz_row(订单实付金额="-89.90", 买家昵称="王小花", 买家手机号="\t13812345678")))
    home.run()
    preview = home.one("SELECT preview_masked FROM quarantine.rows")
    assert "13812345678" not in preview and "王小花" not in preview and "138****" in preview


def test_one_bad_file_does_not_stop_the_others(home):
    home.drop("a_bad.csv", b"\x00\x01binary\x00")
    home.drop("b_trunc.csv", yz(yz_row(), yz_row(no="E20241004114200000000002"))[:-40])
    home.drop_fixture("youzan_orders_bom.csv", "c_good.csv")
    home.run()
    assert home.one("SELECT count(*) FROM staging.orders") == 3
    assert sorted(r[2] for r in home.quarantine()) == ["binary_file", "truncated"]
    assert home.one("SELECT count(*) FROM ops.reconciliation WHERE reconciled") == 3
