"""WeCom archive lines parsed by ``read_json`` (data_contracts.readers.read_jsonl_batch) give the same rows, line
numbers, rejects and values as the line scan (``_read_jsonl_lines``: every line as text, ``json_valid``, then the
extraction), whatever is wrong with the lines: the parsed reader keeps only the lines it can place and hands every
other line, or the whole file, to the line scan."""

import json
from pathlib import Path

import pytest

from data_contracts import readers
from data_contracts.formats import WECOM_ARCHIVE_FIELDS
from data_contracts.readers import SourceFile, _read_jsonl_lines, _read_jsonl_parsed, read_jsonl_batch


def _msg(i: int, **kv) -> bytes:
    m = {
        "msgid": f"65300000000000{i:05d}_1718000000",
        "action": "send",
        "from": f"wo_{i % 7}",
        "roomid": f"wr_{i % 3}",
        "msgtime": 1718000000000 + i,
        "msgtype": "text",
        "text": {"content": f"你好 {i}"},
    }
    m.update(kv)
    return json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode()


def _lines(*parts: bytes, end: bytes = b"\n") -> bytes:
    return b"\n".join(parts) + end


GOOD = _lines(*[_msg(i) for i in range(6)])
CASES = {
    "clean": GOOD,
    "no_final_newline": _lines(*[_msg(i) for i in range(3)], end=b""),
    "cut_inside_a_string": _lines(_msg(1), _msg(2)[:40], _msg(3)),
    # cut after a key: the next line parses as its value, and read_json gives no fields for either line
    "cut_after_a_key": _lines(_msg(1), _msg(2)[: _msg(2).index(b',"msgtime"') + 11], _msg(3), _msg(4)),
    "blank_lines": _lines(_msg(1), b"", b"   ", "\u3000".encode(), _msg(2), b"\t", _msg(3)),
    "crlf": b"".join(_msg(i) + b"\r\n" for i in range(3)),
    "lone_cr": _lines(_msg(1), _msg(2) + b"\r" + _msg(3), _msg(4)),
    "vertical_tab": _lines(_msg(1), _msg(2) + b"\x0b", _msg(3)),
    "form_feed": _lines(b"\x0c" + _msg(1), _msg(2)),
    "bom": b"\xef\xbb\xbf" + GOOD,
    "bom_then_bad_first_line": b"\xef\xbb\xbf" + _lines(b"{oops", _msg(2)),
    "not_utf8": _lines(_msg(1), _msg(2).replace("你".encode(), b"\xff\xfe"), _msg(3)),
    "nan_and_infinity": _lines(_msg(1), b'{"msgid":NaN,"msgtime":Infinity}', _msg(3)),
    "not_objects": _lines(_msg(1), b"[1,2]", b'"text"', b"{}", b"null", _msg(2)),
    "two_objects_on_a_line": _lines(_msg(1), _msg(2) + _msg(3), _msg(4)),
    "trailing_garbage": _lines(_msg(1), _msg(2) + b" // note", _msg(3)),
    "mistyped_fields": _lines(
        _msg(1, text="plain", msgtime="17e3"),
        _msg(2, msgid=12345, text={"content": {"nested": 1}}, revoke={"pre_msgid": None}),
        _msg(3, text=[1, 2], revoke={"pre_msgid": "x"}, **{"from": True}),
        _msg(4, text=None, roomid=""),
    ),
    "duplicate_keys": _lines(b'{"msgid":"a","msgid":"b","text":{"content":"x","content":"y"}}', _msg(2)),
    "switch_without_fields": _lines(_msg(1), b'{"action":"switch","time":1718000000000,"user":"x"}', _msg(2)),
    "control_character": _lines(_msg(1), _msg(2).replace("你".encode(), b"\x01"), _msg(3)),
    "empty": b"",
    "only_blank": b"\n \n\n",
    # an object over two lines: read_json fails the whole scan, so the batch goes line by line
    "object_over_two_lines": _lines(_msg(1), b'{"msgid":"x",', b'"action":"send"}', _msg(4)),
}


def _files(tmp_path: Path, names: list[str]) -> list[SourceFile]:
    out = []
    for i, name in enumerate(names):
        p = tmp_path / f"{i}_{name}.jsonl"
        p.write_bytes(CASES[name])
        out.append(SourceFile(f"{i:064d}", p.name, p, "utf-8"))
    return out


def _same(files: list[SourceFile]):
    whole = _read_jsonl_lines(files, WECOM_ARCHIVE_FIELDS)
    parsed = read_jsonl_batch(files, WECOM_ARCHIVE_FIELDS)
    assert parsed.frame.equals(whole.frame)
    assert parsed.rejects.equals(whole.rejects)
    assert parsed.files == whole.files
    return whole


@pytest.mark.parametrize("name", [n for n in CASES if n != "object_over_two_lines"])
def test_each_file_reads_as_the_line_scan_reads_it(tmp_path, name):
    # beside a clean file, so the batch always has a file read_json takes
    whole = _same(_files(tmp_path, ["clean", name]))
    assert whole.frame.height >= 6


def test_a_batch_of_every_case_reads_as_the_line_scan_reads_it(tmp_path):
    names = [n for n in CASES if n != "object_over_two_lines"]
    whole = _same(_files(tmp_path, names))
    # the defects are really there: bad lines come back as not-JSON rows or as rejects
    assert whole.frame.filter(~whole.frame["_ok"]).height >= 8
    assert whole.rejects.height >= 1


def test_the_parsed_reader_takes_the_files_it_can_place_and_leaves_the_rest(tmp_path):
    files = _files(tmp_path, ["clean", "cut_inside_a_string", "lone_cr", "vertical_tab", "bom"])
    frame, taken, whole = _read_jsonl_parsed(files, WECOM_ARCHIVE_FIELDS)
    assert set(taken) == {0, 1, 4}
    assert len(taken[0][1]) == 0 and list(taken[1][1]) == [1]  # only the cut line goes to the line scan
    assert len(taken[4][1]) == 0  # read_json skips a byte-order mark, as the line scan does
    assert [f.name for f in whole] == ["2_lone_cr.jsonl", "3_vertical_tab.jsonl"]
    assert frame.height == 6 + 2 + 6
    assert frame["_line"].to_list() == [1, 2, 3, 4, 5, 6, 1, 3, 1, 2, 3, 4, 5, 6]


def test_a_failed_parse_reads_the_whole_batch_line_by_line(tmp_path):
    files = _files(tmp_path, ["clean", "object_over_two_lines"])
    frame, taken, whole = _read_jsonl_parsed(files, WECOM_ARCHIVE_FIELDS)
    assert not taken and whole == files and frame.height == 0
    _same(files)


def test_a_path_read_json_cannot_express_goes_line_by_line(tmp_path):
    files = _files(tmp_path, ["clean"])
    fields = {**WECOM_ARCHIVE_FIELDS, "first": "$.tolist[0]"}
    assert readers._json_columns(fields) is None
    frame, taken, whole = _read_jsonl_parsed(files, fields)
    assert not taken and whole == files
