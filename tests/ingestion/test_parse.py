"""Value parsers: dates in every shape exports use, money, integers, phones."""

from datetime import UTC, datetime

import polars as pl
import pytest

from data_contracts.parse import clean_text, parse_epoch, parse_int, parse_money, parse_timestamp
from data_contracts.privacy_ops import mask_phone_expr, normalise_phone_expr


def _ts(values, tz="Asia/Shanghai"):
    df = pl.DataFrame({"s": values}, schema={"s": pl.String})
    return df.select(parse_timestamp(clean_text("s"), tz)).to_series().to_list()


def test_timestamp_shapes_become_utc():
    got = _ts(
        [
            "2024-10-04 11:42:05",
            "2024/10/4 11:42",
            "2024/10/4 9:05:03",
            "45569.4875",
            "2024-10-04T11:42:00+08:00",
            "2024-10-04 11:42:00 +0800",
            "\t2024-10-04 11:42:05",
            "——",
            "",
        ]
    )
    assert got[0] == datetime(2024, 10, 4, 3, 42, 5, tzinfo=UTC)
    assert got[1] == datetime(2024, 10, 4, 3, 42, tzinfo=UTC)
    assert got[2] == datetime(2024, 10, 4, 1, 5, 3, tzinfo=UTC)
    # Excel serial 45569.4875 = 2024-10-04 11:42 local
    assert got[3] == datetime(2024, 10, 4, 3, 42, tzinfo=UTC)
    assert got[4] == got[5] == datetime(2024, 10, 4, 3, 42, tzinfo=UTC)
    assert got[6] == got[0]
    assert got[7] is None and got[8] is None


def test_source_timezone_is_configurable():
    assert _ts(["2024-10-04 12:00:00"], "UTC")[0] == datetime(2024, 10, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["2026-13-45 25:61:00", "N/A", "0000-00-00 00:00:00", "yesterday"])
def test_bad_dates_do_not_parse(bad):
    assert _ts([bad])[0] is None


def test_epoch_seconds_and_ms():
    df = pl.DataFrame({"s": ["1728013320", "bad"], "ms": ["1718000000123", None]})
    out = df.select(parse_epoch(pl.col("s"), "s"), parse_epoch(pl.col("ms"), "ms").alias("m"))
    assert out["s"][0] == datetime(2024, 10, 4, 3, 42, tzinfo=UTC)
    assert out["s"][1] is None
    assert out["m"][0] == datetime(2024, 6, 10, 6, 13, 20, 123000, tzinfo=UTC)


def test_money_yuan_fen_and_bad_numbers():
    df = pl.DataFrame({"s": ["89.90", "¥1,089.00", "0", "12.3O", "abc", "1,2.5", "-5.00", "600"]})
    yuan = df.select(parse_money(pl.col("s"))).to_series().to_list()
    assert yuan == [89.9, 1089.0, 0.0, None, None, None, -5.0, 600.0]
    fen = df.select(parse_money(pl.col("s"), "fen")).to_series().to_list()
    assert fen[-1] == 6.0


def test_int_parser():
    df = pl.DataFrame({"s": ["3", "3.0", "3.5", "x", "1,000"]})
    assert df.select(parse_int(pl.col("s"))).to_series().to_list() == [3, 3, None, None, 1000]


def test_phone_normalise_and_mask():
    df = pl.DataFrame(
        {"s": ["\t13800001111", "'13800001111", "+86 138 0000 1111", "134****8175", "0086-13800001111"]}
    )
    out = df.select(
        normalise_phone_expr(clean_text("s")).alias("n"), mask_phone_expr(clean_text("s")).alias("m")
    )
    assert out["n"].to_list() == ["13800001111", "13800001111", "13800001111", None, "13800001111"]
    assert out["m"].to_list()[0] == "138****1111"
    assert out["m"].to_list()[3] == "134****8175"


def test_phone_and_name_masks_edge_shapes():
    from data_contracts.privacy_ops import mask_name_expr

    s = [
        "8613800001111",
        "86138****1111",
        "861380000111",
        "008613800001111",
        "123456",
        "1234567",
        "",
        None,
        "王",
    ]
    df = pl.DataFrame({"s": s}, schema={"s": pl.String})
    out = df.select(
        normalise_phone_expr(pl.col("s")).alias("n"),
        mask_phone_expr(pl.col("s")).alias("m"),
        mask_name_expr(pl.col("s")).alias("x"),
    )
    # 86 + 11 digits: the country code goes; 86 + 10 digits is another number, kept as it is
    assert out["n"].to_list() == [
        "13800001111",
        None,
        "861380000111",
        "13800001111",
        None,
        "1234567",
        None,
        None,
        None,
    ]
    assert out["m"].to_list() == [
        "138****1111",
        "138****1111",
        "861****0111",
        "138****1111",
        None,
        "123****4567",
        None,
        None,
        None,
    ]
    assert out["x"].to_list() == [
        "8" + "*" * 12,
        "8" + "*" * 12,
        "8" + "*" * 11,
        "0" + "*" * 14,
        "1*****",
        "1******",
        None,
        None,
        "王*",
    ]


def test_eager_fast_path_matches_full_parser_on_mixed_shapes():
    from data_contracts.parse import parse_timestamp_series

    values = ["2024-10-04 11:42:05"] * 60 + [
        "2024/10/4 11:42",
        "45569.4875",
        "N/A",
        None,
        "2024-10-04T11:42:00+08:00",
    ]
    s = pl.Series("s", values, dtype=pl.String)
    fast = parse_timestamp_series(s, "Asia/Shanghai").to_list()
    assert fast == _ts(values)
    assert fast[60] == datetime(2024, 10, 4, 3, 42, tzinfo=UTC) and fast[62] is None


@pytest.mark.parametrize("unit", ["yuan", "fen"])
def test_number_fast_path_equals_the_full_parsers(unit):
    from data_contracts.parse import parse_number_series

    values = [
        "89.90",
        "¥1,089.00",
        "0",
        "12.3O",
        "abc",
        "1,2.5",
        "-5.00",
        "600",
        None,
        "1e3",
        " 7 ",
        "RMB12",
        "12元",
        "3.0",
        "3.5",
        "1,000",
        "inf",
        "￥ 2,000",
        "-0.004",
        "0.005",
    ]
    s = pl.Series("v", values, dtype=pl.String)
    frame = s.to_frame()
    money = parse_number_series(s, "money", unit)
    assert money.name == "v" and money.dtype == pl.Float64
    assert money.to_list() == frame.select(parse_money(pl.col("v"), unit)).to_series().to_list()
    ints = parse_number_series(s, "int")
    assert ints.dtype == pl.Int64
    assert ints.to_list() == frame.select(parse_int(pl.col("v"))).to_series().to_list()
    assert ints.to_list()[:4] == [None, None, 0, None] and money.to_list()[1] == (
        1089.0 if unit == "yuan" else 10.89
    )
