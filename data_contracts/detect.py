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

# format name -> header names that must all appear in the first row
HEADER_SIGNATURES: dict[str, tuple[str, ...]] = {
    "youzan_orders": ("订单号", "订单创建时间", "买家手机号", "订单实付金额"),
    "youzan_order_lines": ("订单号", "商品名称", "商品实际成交金额"),
    "youzan_customers": ("客户手机号", "成为客户时间"),
    "ktt_orders": ("跟团号", "下单人", "支付时间", "订单金额"),
    "shopify_orders": ("Name", "Financial Status", "Lineitem name", "Created at"),
    "canonical_orders": ("order_no", "buyer_phone", "created_at", "paid_amount"),
    "wechatmsg_chat": ("localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "StrContent"),
    "pywxdump_chat": ("MsgSvrID", "type_name", "is_sender", "talker", "CreateTime"),
    "invite_records": ("邀请人ID", "被邀请人ID", "邀请时间"),
}
# checked in this order; more specific signatures first
DETECTION_ORDER = (
    "youzan_orders",
    "youzan_order_lines",
    "youzan_customers",
    "ktt_orders",
    "shopify_orders",
    "canonical_orders",
    "wechatmsg_chat",
    "pywxdump_chat",
    "invite_records",
)


@dataclass(frozen=True)
class Detection:
    format: str  # a known format, or unknown / empty / binary / unreadable
    encoding: str | None
    header: tuple[str, ...] = ()
    problem: str | None = None  # words for the user when format is not known


def decode_sample(sample: bytes, truncated: bool) -> tuple[str, str] | None:
    """Return (encoding, text) for UTF-8 with/without BOM or GB18030, else None."""
    if sample.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "gb18030")
    for enc in candidates:
        try:
            return enc, sample.decode(enc)
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sample is not an encoding error
            if truncated and exc.start >= len(sample) - 4:
                try:
                    return enc, sample[: exc.start].decode(enc)
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
            return Detection("unreadable", "xlsx", problem=f"looks like an Excel file but cannot be opened ({exc})")
        fmt = match_header(header)
        if fmt is None:
            return Detection("unknown", "xlsx", header, problem=_unknown_words(header))
        return Detection(fmt, "xlsx", header)
    if b"\x00" in sample[:4096]:
        return Detection("binary", None, problem="binary file (not CSV, JSON or xlsx): drop the original export instead")
    decoded = decode_sample(sample, truncated=size > len(sample))
    if decoded is None:
        return Detection(
            "unreadable", None, problem="text is neither UTF-8 nor GB18030: re-save the file as UTF-8 CSV from Excel"
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
            return Detection("unknown", enc, problem="JSON that is neither JSON lines nor one complete document")
    if isinstance(obj, dict) and {"msgid", "msgtime", "msgtype"} <= obj.keys():
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
