"""No raw phone number, wxid, WeCom id or name from the inputs appears anywhere in the warehouse after ingest
(staging, ingest, quarantine, ops — and marts, when present)."""

import re
from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ALL = [p.name for p in FIX.iterdir() if p.is_file()]  # formats/ holds header-only layouts

PHONES = ["13800001111", "13900002222", "13700003333", "13800002222"]
IDS = [
    "wxid_owner000000001",
    "wxid_member0000001",
    "lily_8823",
    "wmAbc001",
    "wmAbc002",
    "oUnion000000000000000000001",
    "1000000001",
    "1000000002",
    "alice@example.com",
    "bob@example.com",
    "staff_lin",
]
NAMES = ["王小花", "张三", "六六", "李团长", "赵六", "Alice Wang", "Bob Li"]


def _all_text(home) -> list[str]:
    cols = home.q(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema IN ('staging', 'ingest', 'quarantine', 'ops', 'marts', 'landing') "
        "AND (data_type LIKE 'VARCHAR%' OR data_type LIKE '%[]')"
    )
    out = []
    for schema, table, col, dtype in cols:
        if schema == "landing" and col in ("file_name", "archived_path"):
            continue  # file names are the brand's own, not personal data
        expr = f'"{col}"' if not dtype.endswith("[]") else f"array_to_string(\"{col}\", ',')"
        out += [
            r[0] for r in home.q(f'SELECT DISTINCT {expr} FROM "{schema}"."{table}" WHERE {expr} IS NOT NULL')
        ]
    return out


def test_no_raw_identifiers_anywhere(home):
    for name in ALL:
        home.drop_fixture(name)
    # and a quarantined row full of personal data
    home.drop("bad.csv", (FIX / "youzan_orders_bom.csv").read_bytes().replace(b"97.90", b"-97.90"))
    home.run()
    assert home.one("SELECT count(*) FROM staging.members") >= 6  # the scan below looks at real data
    assert home.one("SELECT count(*) FROM quarantine.rows") >= 1
    text = "\n".join(_all_text(home))
    for v in PHONES + IDS + NAMES:
        assert v not in text, f"raw value {v!r} found in the warehouse"
    assert not re.search(r"(?<![\dA-Za-z])1[3-9]\d{9}(?!\d)", text), "an unmasked mobile number is stored"


def name_hits(texts, names) -> dict[str, str]:
    """Every ground-truth name (length ≥ 2) that occurs as a SUBSTRING of some text value: {name: the text}.
    Set lookups of every substring whose length is a name length (no regex over thousands of names)."""
    names = {n for n in names if n and len(n) >= 2}
    lengths = sorted({len(n) for n in names})
    hits: dict[str, str] = {}
    for t in texts:
        for k in lengths:
            for i in range(len(t) - k + 1):
                if t[i : i + k] in names:
                    hits.setdefault(t[i : i + k], t)
    return hits


def test_name_hits_finds_substrings_not_only_equal_values():
    assert name_hits(["🏠任浩艳的生鲜社区团", "任**的水果群"], ["任浩艳", "任", "赵六"]) == {
        "任浩艳": "🏠任浩艳的生鲜社区团"
    }


CHAT_HEADER = (
    "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"
)


def test_person_names_inside_group_and_file_names_are_masked(home):
    """A 大C names the group after themself and the chat export carries the group name in its file name: the
    owner's name is masked in staging.groups (known from the export's nicknames, or before a possessive 的),
    in quarantine / reconciliation file names, and the group_id stays the hash of the chat id."""
    room = "22222222222@chatroom"
    home.drop(
        f"🏠赵丽娜的生鲜社区团_{room}.csv",
        CHAT_HEADER
        + f"1,{room},1,0,1,1728013320,2,今晚开团,2024-10-04 11:42:00,,【团长】赵丽娜 13900002222,wxid_owner000000001\n"
        + f"2,{room},1,0,0,1728013440,3,有吗？,2024-10-04 11:44:00,周敏 13800001111,敏敏🌸,wxid_member0000001\n"
        + f"3,{room},1,0,0,2026-13-45 25:61:00,3,有吗？,bad,,敏敏🌸,wxid_member0000001\n",
    )
    # no possessive: only the member list of the same snapshot tells that 王小花 is a person
    detail = (FIX / "groupchat_wrGroup0001.json").read_text(encoding="utf-8")
    home.drop(
        "groupchat_wrGroup0002.json",
        detail.replace("wrGroup0001", "wrGroup0002")
        .replace("\\u5468\\u672b\\u56e2\\u8d2d\\u7fa4", "王小花团购群")
        .replace('"周末团购群"', '"王小花团购群"'),
    )
    home.run()
    import hashlib

    groups = dict(home.q("SELECT group_id, group_name FROM staging.groups"))
    assert sorted(groups.values()) == ["王**团购群", "🏠赵**的生鲜社区团"]
    assert groups["g_" + hashlib.md5(room.encode()).hexdigest()[:16]] == "🏠赵**的生鲜社区团"
    assert (
        home.one(
            "SELECT count(*) FROM quarantine.rows WHERE file_name = ?", [f"🏠赵**的生鲜社区团_{room}.csv"]
        )
        == 1
    )
    assert home.one("SELECT count(*) FROM ops.reconciliation WHERE file_name LIKE '%赵**%'") == 1
    hits = name_hits(_all_text(home), ["赵丽娜", "丽娜", "周敏", "王小花", "小花"])
    assert hits == {}, f"person names found in the warehouse: {hits}"


def test_name_pieces_vectorised_equals_the_python_rule():
    import polars as pl

    from data_contracts.privacy_ops import name_pieces, name_pieces_expr

    values = [
        "王小明",
        "【团长】李华的水果店",
        "🏠任浩艳的生鲜社区团",
        "Alice Wong (客服)",
        "张三丰123李四",
        "欧阳娜娜娜娜",
        "Al",
        "小助手 Bob",
        "[VIP]陈一",
        "（备注）赵钱孙李周",
        "",
        None,
        "Ann-Marie 群主刘",
    ]
    got = pl.DataFrame({"v": values}, schema={"v": pl.String}).select(name_pieces_expr(pl.col("v")))["v"]
    for v, pieces in zip(values, got.to_list(), strict=True):
        assert set(pieces or []) == name_pieces([v]), v
    by_value = dict(zip(values, got.to_list(), strict=True))
    assert set(by_value["Alice Wong (客服)"]) == {"Alice", "Wong"}
    assert set(by_value["张三丰123李四"]) == {"张三丰", "李四"}
    assert by_value["欧阳娜娜娜娜"] == [] and by_value["Al"] == []


def test_identity_keys_are_the_keyed_hashes_whether_computed_or_cached():
    import polars as pl

    from data_contracts import privacy_ops
    from xiaoshuju.privacy import keyed_hash

    privacy_ops.clear_key_cache()
    first = pl.Series("p", ["13800000001", None, "", "13800000002", "13800000001"])
    second = pl.Series("p", ["13800000002", "13800000003", None, "13800000001"])  # two cached, one new
    want = [None if not v else f"phone:{keyed_hash(v, b'k1', 'phone')}" for v in second.to_list()]
    assert privacy_ops.key_series(first, b"k1", "phone")[0] == f"phone:{keyed_hash('13800000001', b'k1', 'phone')}"
    got = privacy_ops.key_series(second, b"k1", "phone")
    assert got.to_list() == want and got.name == "p"
    # another installation secret or id type never reads the first one's cache
    assert privacy_ops.key_series(second, b"k2", "phone")[0] == f"phone:{keyed_hash('13800000002', b'k2', 'phone')}"
    assert privacy_ops.key_series(second, b"k1", "wxid")[0] == f"wxid:{keyed_hash('13800000002', b'k1', 'wxid')}"
    privacy_ops.clear_key_cache()
    assert privacy_ops.key_series(pl.Series("p", [None, ""], dtype=pl.String), b"k1", "phone").to_list() == [None, None]
