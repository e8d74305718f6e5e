"""Every supported export layout, from hand-written fixtures (tests/fixtures/), with known answers."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from xiaoshuju.privacy import keyed_hash


def _member_of(home, id_type, raw):
    return home.one(
        "SELECT any_value(member_id) FROM staging.member_identities WHERE id_type = ? AND id_hash = ?",
        [id_type, keyed_hash(raw, home.key, id_type)],
    )


def test_youzan_orders_bom_tab_masked_refund(home):
    home.drop_fixture("youzan_orders_bom.csv")
    home.run()
    rows = home.q(
        "SELECT source_order_no, status, is_paid, created_at, paid_amount, refund_status, refund_amount, "
        "net_amount, is_leader_order, status_raw FROM staging.orders ORDER BY source_order_no"
    )
    assert len(rows) == 3
    o1, o2, o3 = rows
    assert o1[:5] == (
        "E20241004114200000000001",
        "completed",
        True,
        datetime(2024, 10, 4, 3, 42, tzinfo=UTC),
        Decimal("97.90"),
    )
    assert o1[8] is True  # 社群接龙订单 / 团长订单 是
    # unpaid closed order, masked phone, `2024/10/5 9:00` date → no buyer key, not paid
    assert o2[1:4] == ("closed", False, datetime(2024, 10, 5, 1, 0, tzinfo=UTC))
    assert home.one("SELECT member_id FROM staging.orders WHERE source_order_no LIKE '%2'") is None
    # full refund → refunded, net 0
    assert o3[1] == "refunded" and o3[5] == "full" and o3[6] == Decimal("120.00") and o3[7] == Decimal("0.00")
    # TAB- and apostrophe-prefixed phones are the same buyer; the second 分销员 is the seller
    buyer = _member_of(home, "phone", "13800001111")
    seller = _member_of(home, "phone", "13900002222")
    assert home.one("SELECT count(*) FROM staging.orders WHERE member_id = ?", [buyer]) == 2
    assert home.one("SELECT count(*) FROM staging.orders WHERE seller_member_id = ?", [seller]) == 2
    assert home.one("SELECT phone_masked FROM staging.members WHERE member_id = ?", [buyer]) == "138****1111"


def test_youzan_orders_gb18030_reads_the_same(home):
    home.drop_fixture("youzan_orders_gb18030.csv")
    home.run()
    assert home.one("SELECT encoding FROM landing.manifest") == "gb18030"
    assert home.one("SELECT sum(paid_amount) FROM staging.orders") == Decimal("217.90")
    assert home.one("SELECT count(*) FROM quarantine.rows") == 0


def test_youzan_order_lines_and_customers_binding(home):
    home.drop_fixture("youzan_orders_bom.csv")
    home.drop_fixture("youzan_order_lines.csv")
    home.drop_fixture("youzan_customers_12345678.csv")
    home.run()
    lines = home.q(
        "SELECT order_id, line_no, quantity, line_amount, refund_status FROM staging.order_lines "
        "ORDER BY order_id"
    )
    assert lines == [
        ("youzan:E20241004114200000000001", 1, 1, Decimal("89.90"), "none"),
        ("youzan:E20241006100000000000003", 1, 2, Decimal("120.00"), "full"),
    ]
    # customers export: trailing comma header, Excel serial 成为客户时间, 分销员 binding → referral to the seller
    buyer = _member_of(home, "phone", "13800001111")
    seller = _member_of(home, "phone", "13900002222")
    assert home.q("SELECT referrer_member_id, referee_member_id, channel FROM staging.referrals") == [
        (seller, buyer, "distributor_binding")
    ]
    six = _member_of(home, "phone", "13700003333")
    assert home.one("SELECT customer_since FROM staging.members WHERE member_id = ?", [six]) == datetime(
        2024, 10, 5, 4, 0, tzinfo=UTC
    )


def test_ktt_xlsx_excel_dates_and_refund_column_variant(home):
    home.drop_fixture("ktt_orders.xlsx")
    home.run()
    rows = home.q(
        "SELECT source_order_no, created_at, paid_amount, refund_amount, status, member_id IS NOT NULL "
        "FROM staging.orders ORDER BY 1"
    )
    assert rows[0] == (
        "1001",
        datetime(2024, 10, 4, 3, 42, tzinfo=UTC),
        Decimal("59.80"),
        Decimal("0.00"),
        "completed",
        True,
    )
    # Excel serial 45570.5 → 2024-10-05 12:00 Shanghai; 订单退款 (variant header) read as the refund
    assert rows[1] == (
        "1002",
        datetime(2024, 10, 5, 4, 0, tzinfo=UTC),
        Decimal("30.00"),
        Decimal("30.00"),
        "refunded",
        True,
    )
    # `2024/10/6 9:05`, `——` phone → no buyer key
    assert rows[2] == (
        "1003",
        datetime(2024, 10, 6, 1, 5, tzinfo=UTC),
        Decimal("25.00"),
        Decimal("0.00"),
        "paid",
        False,
    )


def test_shopify_line_items_and_offsets(home):
    home.drop_fixture("shopify_orders.csv")
    home.run()
    assert home.q(
        "SELECT source_order_no, paid_amount, refund_status, refund_amount, created_at FROM staging.orders "
        "ORDER BY 1"
    ) == [
        ("#1001", Decimal("110.00"), "none", Decimal("0.00"), datetime(2024, 10, 4, 3, 40, tzinfo=UTC)),
        ("#1002", Decimal("50.00"), "partial", Decimal("20.00"), datetime(2024, 10, 5, 0, 59, tzinfo=UTC)),
    ]
    assert home.q(
        "SELECT order_id, line_no, quantity, unit_price FROM staging.order_lines ORDER BY 1, 2"
    ) == [
        ("shopify:#1001", 1, 1, Decimal("60.00")),
        ("shopify:#1001", 2, 2, Decimal("20.00")),
        ("shopify:#1002", 1, 1, Decimal("50.00")),
    ]
    # +86 phone and e-mail both identify Alice
    assert _member_of(home, "phone", "13800001111") == _member_of(home, "email", "alice@example.com")


def test_canonical_orders_layout(home):
    home.drop_fixture("canonical_orders.csv")
    home.run()
    assert home.q("SELECT order_id, status, paid_amount, created_at FROM staging.orders") == [
        ("canonical:C-1", "paid", Decimal("30.00"), datetime(2024, 10, 7, 2, 0, tzinfo=UTC))
    ]
    assert home.one("SELECT seller_member_id FROM staging.orders") == _member_of(home, "phone", "13900002222")


def test_wechatmsg_chat_messages_members_referrals(home):
    home.drop_fixture("桃子团购群_12345678901@chatroom.csv")
    home.run()
    owner = _member_of(home, "wxid", "wxid_owner000000001")
    member = _member_of(home, "wxid", "wxid_member0000001")
    lily = _member_of(home, "wxid", "lily_8823")
    # owner's nickname carries the phone; a member's remark too
    assert owner == _member_of(home, "phone", "13900002222")
    assert member == _member_of(home, "phone", "13800001111")
    assert home.q("SELECT group_name, owner_member_id, source FROM staging.groups") == [
        ("桃子团购群", owner, "wechat")
    ]
    kinds = home.q("SELECT kind, count(*) FROM staging.messages GROUP BY 1 ORDER BY 1")
    assert kinds == [("image", 1), ("recall", 1), ("solitaire", 1), ("system", 3), ("text", 2)]
    q = home.q(
        "SELECT length, is_question, first_response_seconds, is_owner FROM staging.messages WHERE is_question"
    )
    assert q == [(6, True, 60.0, False)]  # 桃子还有吗？ answered by the owner's image a minute later
    ms = home.q(
        "SELECT member_id, event, scene, inviter_member_id FROM staging.group_memberships "
        "ORDER BY event_at, event"
    )
    assert ms == [
        (owner, "join", "owner", None),
        (member, "join", "invite", owner),
        (lily, "join", "qr", member),
        (lily, "leave", "removed", None),
    ]
    assert sorted(
        home.q("SELECT referrer_member_id, referee_member_id, channel FROM staging.referrals")
    ) == sorted([(owner, member, "chat_invite"), (member, lily, "chat_qr")])


def test_pywxdump_chat(home):
    home.drop_fixture("pywxdump_page1.csv")
    home.run()
    rows = home.q(
        "SELECT kind, length, is_question, first_response_seconds FROM staging.messages ORDER BY sent_at"
    )
    assert rows == [("text", 4, True, 180.0), ("text", 3, False, None), ("image", 0, False, None)]


def test_wecom_archive_and_group_detail(home):
    home.drop_fixture("wecom_archive_20240610.jsonl")
    home.drop_fixture("groupchat_wrGroup0001.json")
    home.run()
    # the 1:1 message is not group speech; the recall notice is kind recall and flags the recalled weapp card
    assert home.q("SELECT kind, is_recalled FROM staging.messages ORDER BY sent_at") == [
        ("text", False),
        ("redpacket", False),
        ("miniprogram", True),
        ("recall", False),
    ]
    staff = _member_of(home, "wecom_internal", "staff_lin")
    owner = _member_of(home, "wecom_internal", "13900002222")
    assert owner == _member_of(home, "phone", "13900002222")  # internal userid = phone
    assert home.one("SELECT is_staff FROM staging.members WHERE member_id = ?", [staff]) is True
    assert (
        home.one("SELECT bool_and(is_staff) FROM staging.messages WHERE sender_member_id = ?", [staff])
        is True
    )
    wm1 = _member_of(home, "wecom_external", "wmAbc001")
    assert (
        wm1
        == _member_of(home, "unionid", "oUnion000000000000000000001")
        == _member_of(home, "phone", "13800001111")
    )
    assert home.q("SELECT owner_member_id, group_name FROM staging.groups") == [(owner, "周末团购群")]
    scenes = dict(home.q("SELECT member_id, scene FROM staging.group_memberships WHERE event = 'join'"))
    assert scenes[wm1] == "qr" and scenes[owner] == "owner"
    assert (owner, wm1, "wecom_invitor") in home.q(
        "SELECT referrer_member_id, referee_member_id, channel FROM staging.referrals"
    )


SENDER_CHECKS = (
    "SELECT count(*) FROM ingest.messages WHERE sender_key IS NOT NULL "
    "AND sender_key NOT IN (SELECT key FROM ingest.id_keys)",
    "SELECT count(*) FROM staging.messages s JOIN ingest.messages i USING (message_id) "
    "WHERE i.sender_key IS NOT NULL AND s.sender_member_id IS NULL",
)


@pytest.mark.parametrize(
    "fixture",
    ["桃子团购群_12345678901@chatroom.csv", "pywxdump_page1.csv", "wecom_archive_20240610.jsonl"],
    ids=["wechatmsg", "pywxdump", "wecom_archive"],
)
def test_every_message_sender_has_an_identity_row(home, fixture):
    """Identity resolution takes its nodes from ingest.id_keys and not from the 51 M message senders of L
    (identity.resolve): each reader that writes a sender key must write that key's identity row, or its messages
    would lose their sender."""
    home.drop_fixture(fixture)
    home.run()
    assert home.one("SELECT count(*) FROM ingest.messages WHERE sender_key IS NOT NULL") > 0
    assert [home.one(q) for q in SENDER_CHECKS] == [0, 0]


def test_invite_records_gb18030(home):
    home.drop_fixture("invite_records_gb18030.csv")
    home.run()
    r = home.q("SELECT referrer_member_id, referee_member_id, channel, referred_at FROM staging.referrals")
    assert r == [
        (
            _member_of(home, "phone", "13900002222"),
            _member_of(home, "platform_buyer", "1000000002"),
            "invite_record",
            datetime(2024, 10, 5, 0, 0, tzinfo=UTC),
        )
    ]
    assert _member_of(home, "platform_buyer", "1000000002") == _member_of(home, "phone", "13700003333")


def test_cross_source_identity(home):
    for f in (
        "youzan_orders_bom.csv",
        "桃子团购群_12345678901@chatroom.csv",
        "wecom_archive_20240610.jsonl",
        "groupchat_wrGroup0001.json",
        "invite_records_gb18030.csv",
        "ktt_orders.xlsx",
    ):
        home.drop_fixture(f)
    home.run()
    buyer = _member_of(home, "phone", "13800001111")
    assert (
        buyer
        == _member_of(home, "wxid", "wxid_member0000001")
        == _member_of(home, "wecom_external", "wmAbc001")
    )
    sources = home.one("SELECT sources FROM staging.members WHERE member_id = ?", [buyer])
    assert {"youzan_orders", "wechatmsg_chat", "wecom_group_detail", "ktt_orders"} <= set(sources)
    rates = dict(home.q("SELECT source_format, match_rate FROM ops.identity_match_rate"))
    assert rates["wecom_group_detail"] > 0 and set(rates) >= {"youzan_orders", "wechatmsg_chat"}


@pytest.mark.parametrize("as_name", ["订单导出[1].csv", "orders*copy?.csv", "orders{a,b}.csv"])
def test_glob_like_file_names_read_as_plain_files(home, as_name):
    # the archive keeps the dropped name; DuckDB's readers take [ ] * ? { } for a glob pattern
    home.drop_fixture("youzan_orders_bom.csv", as_name)
    home.drop_fixture("wecom_archive_20240610.jsonl", as_name.replace(".csv", ".jsonl"))
    home.run()
    assert home.one("SELECT count(*) FROM staging.orders") == 3
    assert home.one("SELECT count(*) FROM staging.messages") == 4
    assert home.q("SELECT rows_in, reconciled FROM ops.reconciliation ORDER BY rows_in") == [(3, True), (5, True)]


def test_group_detail_columnar_reader_equals_the_line_by_line_reader(tmp_path):
    """The polars reader of WeCom group detail gives the rows, line numbers and quarantine of the json.loads reader,
    and leaves every file it cannot take whole to it."""
    import json

    import polars as pl

    from data_contracts.contracts import mapping
    from data_contracts.formats import _wecom_detail_fast, _wecom_detail_one
    from data_contracts.readers import SourceFile

    m = mapping("wecom_group_detail")
    member = {"userid": "wmA", "type": 2, "join_time": 1717000000, "join_scene": 3, "name": "张三"}
    docs = [
        {
            "errcode": 0,
            "notice": {"ignored": [1, "x"]},
            "group_chat": {
                "chat_id": "wrG1",
                "name": "周末团购群",
                "owner": "13900002222",
                "create_time": 1716000000,
                "member_list": [
                    {**member, "invitor": {"userid": "13900002222"}, "remark_mobiles": ["", "13800001111"]},
                    {**member, "userid": "", "name": "no id: skipped"},
                    {"userid": "staff_lin", "type": 1, "group_nickname": "", "name": "林"},
                    {**member, "userid": "wmB", "invitor": {"userid": ""}, "join_scene": None, "group_nickname": "B"},
                ],
                "admin_list": [{"userid": "staff_lin"}, {"userid": ""}],
            },
        },
        {"group_chat": {"chat_id": "", "member_list": [member]}},  # missing id
        {
            "chat_id": "wrG2",
            "name": "top-level group",
            "member_list": [{**member, "join_scene": 1, "invitor": {"userid": "wmB"}}, {**member, "userid": "wmC"}],
        },
        {"group_chat": None},  # missing id
    ]
    lines = [json.dumps(d, ensure_ascii=False) for d in docs]
    cases = {
        "jsonl_with_blank_lines": "\n".join([lines[0], "", lines[1], "   ", lines[2], lines[3]]) + "\n",
        "one_document": "\n\n" + lines[0] + "\n",
        "pretty_printed": json.dumps(docs[0], ensure_ascii=False, indent=2),
        "a_broken_line": lines[0] + "\n{\"group_chat\": {\n" + lines[2] + "\n",
        "a_string_where_a_number_goes": lines[0].replace('"type": 2', '"type": "2"', 1) + "\n",
        "an_array": json.dumps(docs[:2], ensure_ascii=False),
    }
    fast_taken = set()
    for name, text in cases.items():
        p = tmp_path / f"{name}.json"
        p.write_text(text, encoding="utf-8")
        f = SourceFile(name, p.name, p, "utf-8")
        slow = _wecom_detail_one(f, m)
        fast = _wecom_detail_fast(f, m)
        if fast is None:
            continue
        fast_taken.add(name)
        assert fast[0] == slow[0], name
        for got, want in zip(fast[1:], slow[1:], strict=True):
            assert [tuple(r) for r in got.iter_rows()] == [tuple(r) for r in want], name
    assert fast_taken == {"jsonl_with_blank_lines", "one_document"}
    # the cases above exercise what the comparison needs: members skipped, scenes, mobiles, nicknames, quarantine
    slow = _wecom_detail_one(SourceFile("x", "x", tmp_path / "jsonl_with_blank_lines.json", "utf-8"), m)
    assert [r[1] for r in slow[1]] == [3, 6] and slow[4] == [("wrG1", "staff_lin")]
    members = pl.DataFrame(slow[3], orient="row")
    assert members["column_2"].to_list() == ["wmA", "staff_lin", "wmB", "wmA", "wmC"]
    assert members["column_6"].to_list() == ["qr", "organic", "organic", "invite", "organic"]
    assert members["column_8"].to_list() == ["13800001111", None, None, None, None]
    assert members["column_10"].to_list() == ["张三", "林", "B", "张三", "张三"]
