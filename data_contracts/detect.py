"""Recognise an export by its content (header / first record), never by its file name.

Each known layout is identified by a set of header names that must all be present. Add a layout by adding an
entry here (and a mapping YAML for its columns).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

SAMPLE_BYTES = 256 * 1024

# format name -> header names that must all appear in the first row; read from data_contracts/mappings/*.yaml
# (``signature`` and ``priority``), so a new layout is a new mapping file.
from data_contracts.contracts import header_signatures  # noqa: E402

HEADER_SIGNATURES: dict[str, tuple[str, ...]] = header_signatures()
# checked in this order; more specific signatures first
DETECTION_ORDER = tuple(HEADER_SIGNATURES)


@dataclass(frozen=True)
class Detection:
    format: str  # a known format, or unknown / empty / binary / unreadable
    encoding: str | None
    header: tuple[str, ...] = ()
    problem: str | None = None  # words for the user when format is not known


def decode_sample(sample: bytes, truncated: bool) -> tuple[str, str] | None:
    """Return (encoding, text) for UTF-8 with/without BOM or GB18030, else None."""
    if sample.startswith(b"\xef\xbb\xbf"):
        # decode after the BOM so error positions are positions in ``body`` (a cut multi-byte character at the
        # end of the sample is then recognised as such)
        body, candidates, bom = sample[3:], ("utf-8",), True
    else:
        body, candidates, bom = sample, ("utf-8", "gb18030"), False
    for enc in candidates:
        name = "utf-8-sig" if bom else enc
        try:
            return name, body.decode(enc)
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sample is not an encoding error
            if truncated and exc.start >= len(body) - 4:
                try:
                    return name, body[: exc.start].decode(enc)
                except UnicodeDecodeError:
                    continue
            continue
    return None


def _split_header(line: str) -> tuple[str, ...]:
    import csv

    row = next(csv.reader(io.StringIO(line)), [])
    return tuple(c.strip().lstrip("\ufeff").strip('"') for c in row)


def match_header(header: tuple[str, ...]) -> str | None:
    names = set(header)
    for fmt in DETECTION_ORDER:
        if all(h in names for h in HEADER_SIGNATURES[fmt]):
            return fmt
    return None


def _xlsx_header(data: bytes) -> tuple[str, ...]:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows = wb.get_sheet_by_index(0).to_python(nrows=1)
    return tuple(str(c).strip() for c in rows[0]) if rows else ()


def detect(path_or_bytes, *, full_bytes_for_xlsx: bytes | None = None) -> Detection:
    """Detect the layout of a file from its first bytes (and, for xlsx, its first sheet's first row)."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        sample = bytes(path_or_bytes[:SAMPLE_BYTES])
        size = len(path_or_bytes)
        whole = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
            size = fh.seek(0, 2)
        whole = None
    if size == 0 or not sample.strip(b" \t\r\n\xef\xbb\xbf"):
        return Detection("empty", None, problem="the file is empty: export it again with data rows")
    if sample.startswith(b"PK\x03\x04"):
        try:
            data = whole if whole is not None else open(path_or_bytes, "rb").read()
            header = _xlsx_header(data)
        except (zipfile.BadZipFile, Exception) as exc:  # noqa: BLE001 - any reader failure is reported to the user
            return Detection(
                "unreadable", "xlsx", problem=f"looks like an Excel file but cannot be opened ({exc})"
            )
        fmt = match_header(header)
        if fmt is None:
            return Detection("unknown", "xlsx", header, problem=_unknown_words(header))
        return Detection(fmt, "xlsx", header)
    if b"\x00" in sample[:4096]:
        return Detection(
            "binary", None, problem="binary file (not CSV, JSON or xlsx): drop the original export instead"
        )
    # an incomplete multi-byte character at the very end is a cut-off file (reported as truncated by staging),
    # not an encoding problem
    decoded = decode_sample(sample, truncated=size > len(sample) or not sample.endswith(b"\n"))
    if decoded is None:
        return Detection(
            "unreadable",
            None,
            problem="text is neither UTF-8 nor GB18030: re-save the file as UTF-8 CSV from Excel",
        )
    enc, text = decoded
    stripped = text.lstrip("\ufeff \r\n\t")
    if stripped.startswith("{") or stripped.startswith("["):
        return _detect_json(stripped, enc)
    first_line = stripped.splitlines()[0] if stripped else ""
    header = _split_header(first_line)
    fmt = match_header(header)
    if fmt is None:
        return Detection("unknown", enc, header, problem=_unknown_words(header))
    return Detection(fmt, enc, header)


def _detect_json(text: str, enc: str) -> Detection:
    first = text.splitlines()[0]
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            # a damaged export still shows whose it is; staging reports the bad JSON with its line
            head = text[:4096]
            if '"msgid"' in head and '"msgtime"' in head:
                return Detection("wecom_archive", enc)
            if '"group_chat"' in head or ('"chat_id"' in head and '"member_list"' in head):
                return Detection("wecom_group_detail", enc)
            return Detection(
                "unknown", enc, problem="JSON that is neither JSON lines nor one complete document"
            )
    # a first record may itself be damaged (msgid missing): msgtime + msgtype (+ from) are enough to know the layout
    if isinstance(obj, dict) and (
        {"msgid", "msgtime", "msgtype"} <= obj.keys() or {"msgtime", "msgtype", "from"} <= obj.keys()
    ):
        return Detection("wecom_archive", enc, tuple(obj.keys()))
    if isinstance(obj, dict) and ("group_chat" in obj or {"chat_id", "member_list"} <= obj.keys()):
        return Detection("wecom_group_detail", enc, tuple(obj.keys()))
    keys = tuple(obj.keys()) if isinstance(obj, dict) else ()
    return Detection("unknown", enc, keys, problem=f"JSON with unknown fields {list(keys)[:8]}")


def _unknown_words(header: tuple[str, ...]) -> str:
    shown = ", ".join(header[:8]) + (" …" if len(header) > 8 else "")
    return (
        f"unknown layout (header: {shown}); expected one of {', '.join(DETECTION_ORDER)} "
        "(see data_contracts/ for the column lists)"
    )
