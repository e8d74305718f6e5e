"""Injected dirt with a record of where it went (file, physical line, kind)."""

from __future__ import annotations

import numpy as np
import polars as pl

# format -> kind -> column that gets the defect (None = the whole row, broken_row)
ROW_DEFECTS: dict[str, dict[str, str | None]] = {
    "youzan_orders": {"bad_date": "订单创建时间", "negative_amount": "订单实付金额", "missing_id": "订单号",
                      "broken_row": None, "bad_number": "订单实付金额"},
    "youzan_order_lines": {"negative_amount": "商品实际成交金额", "missing_id": "订单号", "broken_row": None,
                           "bad_number": "商品单价"},
    "youzan_customers": {"bad_date": "成为客户时间", "negative_amount": "消费金额", "missing_id": "客户手机号",
                         "broken_row": None, "bad_number": "消费金额"},
    "invite_records": {"bad_date": "邀请时间", "missing_id": "被邀请人ID", "broken_row": None,
                       "bad_number": "被邀请人订单数"},
    "wechatmsg_chat": {"bad_date": "CreateTime", "missing_id": "Sender", "broken_row": None},
}


def choose_row_defects(rng: np.random.Generator, fmt: str, n_rows: int, rate: float,
                       eligible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows (0-based data row index) and kinds for this file."""
    if rate <= 0 or n_rows == 0:
        return np.zeros(0, np.int64), np.zeros(0, dtype=object)
    hit = rng.random(n_rows) < rate
    if eligible is not None:
        hit &= eligible
    rows = np.nonzero(hit)[0]
    kinds = np.asarray(list(ROW_DEFECTS[fmt]), dtype=object)
    return rows, kinds[rng.integers(0, len(kinds), len(rows))]


def apply_cell_defects(df: pl.DataFrame, fmt: str, rows: np.ndarray, kinds: np.ndarray,
                       rng: np.random.Generator, header: list[str]) -> pl.DataFrame:
    """Change cells for every kind except broken_row (that one is applied to the text line)."""
    if len(rows) == 0:
        return df
    col_of = {name: (name if name in df.columns else f"c{header.index(name)}")
              for name in {v for v in ROW_DEFECTS[fmt].values() if v}}
    cols = {col_of[c]: df[col_of[c]].to_numpy().astype(object).copy() for c in col_of}
    for r, k in zip(rows, kinds, strict=True):
        col = ROW_DEFECTS[fmt][k]
        if col is None:
            continue
        a = cols[col_of[col]]
        if k == "bad_date":
            a[r] = ["2026-13-45 25:61:00", "N/A", "0000-00-00 00:00:00"][int(rng.integers(0, 3))]
        elif k == "negative_amount":
            v = str(a[r]).strip()
            a[r] = "-" + (v if v not in ("", "0", "0.00") else "12.00")
        elif k == "missing_id":
            a[r] = ""
        elif k == "bad_number":
            a[r] = ["12.3O", "abc", "1,2.5"][int(rng.integers(0, 3))]
    return df.with_columns([pl.Series(c, v, dtype=pl.String) for c, v in cols.items()])


def break_lines(lines: list[str], rows: np.ndarray, kinds: np.ndarray) -> None:
    """broken_row: drop the last two fields of the row's physical line (wrong column count)."""
    for r, k in zip(rows, kinds, strict=True):
        if k == "broken_row":
            i = int(r) + 1  # lines[0] is the header
            lines[i] = lines[i].rsplit(",", 2)[0]
