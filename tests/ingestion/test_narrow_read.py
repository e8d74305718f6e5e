"""A narrow CSV read (only the columns the mapping uses) gives the same rows, line numbers, rejects and quarantine
previews as reading every column, whatever is wrong with the files of the batch: line breaks inside quoted
fields, a GB18030 file with undecodable bytes, a UTF-8 file with invalid bytes, a file cut off mid-record."""

from pathlib import Path

import polars as pl
import pytest

from data_contracts.contracts import mapping
from data_contracts.readers import FILE, LINE, SourceFile, read_csv_batch
from data_contracts.rules import apply_mapping, mapping_columns
from tests.ingestion.test_malformed import YZ, csv_bytes, yz_row

M = mapping("youzan_orders")


def _files(tmp_path: Path, contents: dict[str, tuple[bytes, str]]) -> list[SourceFile]:
    out = []
    for i, (name, (data, enc)) in enumerate(contents.items()):
        p = tmp_path / name
        p.write_bytes(data)
        out.append(SourceFile(f"{i:064d}", name, p, enc))
    return out


def _rows(n: int, start: int = 1, **kv) -> list[list[str]]:
    return [yz_row(no=f"E2024100411420000000{start + i:04d}", **kv) for i in range(n)]


CLEAN = csv_bytes(YZ, _rows(3))
# a quoted remark with two line breaks: the rows after it start two physical lines later
NEWLINES = csv_bytes(
    YZ, [*_rows(1), yz_row(no="E20241004114200000000099", 买家备注="放门口\n谢谢\n！"), *_rows(2, 5)]
)
# one undecodable GB18030 byte pair in the second row, a negative amount (quarantined by rule) in the third
GB_BAD = csv_bytes(
    YZ,
    [*_rows(1, 20), yz_row(no="E20241004114200000000021", 买家昵称="李@@"), *_rows(1, 22)],
    bom=False,
    enc="gb18030",
).replace("李@@".encode("gb18030"), b"\xc0\xee\xff")
GB_OK = csv_bytes(
    YZ, [*_rows(2, 30), yz_row(no="E20241004114200000000032", 订单实付金额="-5")], bom=False, enc="gb18030"
)
INVALID_UTF8 = csv_bytes(YZ, _rows(2, 40)).replace("王小花".encode(), b"\xe7\x8e\xff", 1)
CUT = csv_bytes(YZ, _rows(3, 50))[:-30]
SHORT_ROW = csv_bytes(YZ, [*_rows(1, 60), "E20241004114200000000061,,,", *_rows(1, 62)])


@pytest.mark.parametrize(
    "batch",
    [
        {"clean.csv": (CLEAN, "utf-8-sig"), "short.csv": (SHORT_ROW, "utf-8-sig")},
        {
            "clean.csv": (CLEAN, "utf-8-sig"),
            "nl.csv": (NEWLINES, "utf-8-sig"),
            "gb_ok.csv": (GB_OK, "gb18030"),
        },
        {
            "gb_bad.csv": (GB_BAD, "gb18030"),
            "clean.csv": (CLEAN, "utf-8-sig"),
            "bad.csv": (INVALID_UTF8, "utf-8-sig"),
        },
        {
            "cut.csv": (CUT, "utf-8-sig"),
            "nl.csv": (NEWLINES, "utf-8-sig"),
            "short.csv": (SHORT_ROW, "utf-8-sig"),
        },
    ],
    ids=["short_row", "newlines_gb", "bad_bytes", "cut_off"],
)
def test_narrow_read_matches_the_whole_read(tmp_path, batch):
    files = _files(tmp_path, batch)
    wide = read_csv_batch(files)
    narrow = read_csv_batch(files, keep=lambda names: mapping_columns(M, names))
    kept = [c for c in narrow.frame.columns if c not in (FILE, LINE)]
    assert 0 < len(kept) < len(YZ) - 20  # it is narrow
    assert narrow.names == wide.names
    # the same rows in the same order, line numbers included
    assert narrow.frame.equals(wide.frame.select(narrow.frame.columns))
    assert narrow.rejects.sort(FILE, LINE).equals(wide.rejects.sort(FILE, LINE))
    assert narrow.rows_in() == wide.rows_in()
    # every record's full text (the quarantine preview's source) is the same
    keys = wide.frame.select(FILE, LINE)
    assert narrow.record_text(keys).sort(FILE, LINE).equals(wide.record_text(keys).sort(FILE, LINE))
    # and so is what the contract makes of it
    t_w, q_w = apply_mapping(wide, M, "Asia/Shanghai")
    t_n, q_n = apply_mapping(narrow, M, "Asia/Shanghai")
    assert t_n.equals(t_w)
    assert q_n.sort(FILE, "line_no").equals(q_w.sort(FILE, "line_no"))


def test_line_breaks_inside_fields_number_the_rows_by_physical_line(tmp_path):
    files = _files(tmp_path, {"nl.csv": (NEWLINES, "utf-8-sig")})
    narrow = read_csv_batch(files, keep=lambda names: mapping_columns(M, names))
    lines = dict(narrow.frame.select(pl.col("订单号"), pl.col(LINE)).iter_rows())
    assert lines == {
        "E20241004114200000000001": 2,
        "E20241004114200000000099": 3,  # spans lines 3–5
        "E20241004114200000000005": 6,
        "E20241004114200000000006": 7,
    }


def test_undecodable_gb18030_bytes_are_quarantined_in_a_narrow_read(tmp_path):
    files = _files(tmp_path, {"gb_bad.csv": (GB_BAD, "gb18030")})
    narrow = read_csv_batch(files, keep=lambda names: mapping_columns(M, names))
    assert narrow.rejects.select(LINE, "reason_code").rows() == [(3, "bad_encoding")]
    assert narrow.frame[LINE].to_list() == [2, 4]
