"""Vectorised value parsers shared by every reader (polars expressions, no per-row Python).

Each parser returns the parsed expression; the caller compares it with the cleaned raw text to find rows whose
non-empty value did not parse (→ quarantine with bad_date / bad_number).
"""

from __future__ import annotations

import polars as pl

NULL_TOKENS = ["", "——", "—", "-", "--"]

NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)
OFFSET_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%z",
)
EXCEL_EPOCH = pl.datetime(1899, 12, 30)
# sane bounds for event times in exports; outside → bad_date
MIN_TS = "2000-01-01"
MAX_TS = "2100-01-01"


def clean_text(col: str | pl.Expr) -> pl.Expr:
    """Strip whitespace, Excel's TAB / apostrophe text prefixes and the export's null tokens (``——``, ``-``, blank)."""
    e = pl.col(col) if isinstance(col, str) else col
    e = e.cast(pl.String).str.strip_chars().str.strip_chars_start("\t'\ufeff").str.strip_chars()
    # replace, not when(e.is_in(…)).then(None).otherwise(e): that evaluates the strips twice (an eager select has
    # no common-subexpression elimination)
    return e.replace(NULL_TOKENS, None)


def parse_timestamp(e: pl.Expr, tz: str) -> pl.Expr:
    """Text → UTC datetime. Accepts ``YYYY-MM-DD HH:MM:SS``, ``2024/10/4 11:42``, ISO with offset, Excel serials.

    Naive values are read in ``tz`` (the source's configured zone, default Asia/Shanghai).
    """
    naive = pl.coalesce([e.str.strptime(pl.Datetime("us"), f, strict=False) for f in NAIVE_FORMATS])
    serial = e.str.extract(r"^(\d{5}(?:\.\d+)?)$", 1).cast(pl.Float64, strict=False)
    excel = EXCEL_EPOCH + pl.duration(microseconds=(serial * 86_400_000_000).round(0).cast(pl.Int64))
    naive = pl.coalesce([naive, excel.cast(pl.Datetime("us"))])
    local = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone(
        "UTC"
    )
    offset = pl.coalesce([e.str.strptime(pl.Datetime("us", "UTC"), f, strict=False) for f in OFFSET_FORMATS])
    out = pl.coalesce([offset, local])
    lo = pl.lit(MIN_TS).str.strptime(pl.Datetime("us"), "%Y-%m-%d").dt.replace_time_zone("UTC")
    hi = pl.lit(MAX_TS).str.strptime(pl.Datetime("us"), "%Y-%m-%d").dt.replace_time_zone("UTC")
    return pl.when(out.is_between(lo, hi)).then(out).otherwise(None)


def parse_epoch(e: pl.Expr, unit: str) -> pl.Expr:
    """Unix seconds / milliseconds (text) → UTC datetime."""
    n = e.cast(pl.Float64, strict=False)
    mult = {"s": 1_000_000, "ms": 1_000}[unit]
    out = pl.from_epoch(
        (n * mult).round(0).cast(pl.Int64, strict=False), time_unit="us"
    ).dt.replace_time_zone("UTC")
    lo = pl.lit(MIN_TS).str.strptime(pl.Datetime("us"), "%Y-%m-%d").dt.replace_time_zone("UTC")
    hi = pl.lit(MAX_TS).str.strptime(pl.Datetime("us"), "%Y-%m-%d").dt.replace_time_zone("UTC")
    return pl.when(out.is_between(lo, hi)).then(out).otherwise(None)


def parse_money(e: pl.Expr, unit: str = "yuan") -> pl.Expr:
    """``89.90`` / ``¥1,089.00`` / ``600`` (fen) → Float64 yuan rounded to 2 decimals."""
    t = e.str.replace_all(r"[¥￥\s]", "").str.replace(r"^(?:CNY|RMB)|元$", "")
    # thousands separators only in their proper places (1,089.00); "1,2.5" is not a number
    t = (
        pl.when(t.str.contains(",", literal=True) & ~t.str.contains(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$"))
        .then(None)
        .otherwise(t.str.replace_all(",", "", literal=True))
    )
    n = t.cast(pl.Float64, strict=False)
    if unit == "fen":
        n = n / 100.0
    return n.round(2)


def parse_int(e: pl.Expr) -> pl.Expr:
    t = e.str.replace_all(r"\s", "")
    t = (
        pl.when(t.str.contains(",", literal=True) & ~t.str.contains(r"^-?\d{1,3}(,\d{3})+$"))
        .then(None)
        .otherwise(t.str.replace_all(",", "", literal=True))
    )
    f = t.cast(pl.Float64, strict=False)
    return pl.when(f == f.round(0)).then(f.cast(pl.Int64, strict=False)).otherwise(None)


def parse_number_series(s: pl.Series, ftype: str, unit: str = "yuan") -> pl.Series:
    """Eager :func:`parse_money` / :func:`parse_int` with a fast path: a value that already casts to a float cannot
    hold a currency sign, blank, unit or thousands separator, so the full clean-up (half a dozen string passes) runs
    only on the rows whose plain cast failed — equal results, a fraction of the string work on a clean export."""
    name = s.name
    plain = s.cast(pl.Float64, strict=False)
    todo = plain.is_null() & s.is_not_null()
    if ftype == "money":
        out = ((plain / 100.0) if unit == "fen" else plain).round(2)
        full = parse_money(pl.col("s"), unit)
    else:
        out = pl.select(
            pl.when(plain == plain.round(0)).then(plain.cast(pl.Int64, strict=False)).otherwise(None)
        ).to_series()
        full = parse_int(pl.col("s"))
    if todo.any():
        slow = s.rename("s").to_frame().filter(todo).select(full).to_series()
        out = out.scatter(todo.arg_true(), slow.cast(out.dtype))
    return out.rename(name)


def parse_bool(e: pl.Expr) -> pl.Expr:
    t = e.str.to_lowercase()
    return (
        pl.when(t.is_in(["1", "true", "yes", "y", "是", "t"]))
        .then(True)
        .when(t.is_in(["0", "false", "no", "n", "否", "f"]))
        .then(False)
        .otherwise(None)
    )


def parse_timestamp_series(s: pl.Series, tz: str) -> pl.Series:
    """Eager :func:`parse_timestamp` that first tries the column's dominant shape on every row and runs the full
    list of shapes only on the rows that did not parse (an export uses one shape per column almost always)."""
    name = s.name
    frame = s.rename("s").to_frame()
    probe = frame.head(50).drop_nulls()
    candidates = list(NAIVE_FORMATS)
    first = None
    for f in candidates:
        if (
            probe.height
            and probe.select(
                pl.col("s").str.strptime(pl.Datetime("us"), f, strict=False).is_not_null().all()
            ).item()
        ):
            first = f
            break
    if first is None:
        return frame.select(parse_timestamp(pl.col("s"), tz)).to_series().rename(name)
    lo = pl.lit(MIN_TS).str.strptime(pl.Datetime("us"), "%Y-%m-%d").dt.replace_time_zone("UTC")
    hi = pl.lit(MAX_TS).str.strptime(pl.Datetime("us"), "%Y-%m-%d").dt.replace_time_zone("UTC")
    fast = frame.select(
        pl.col("s")
        .str.strptime(pl.Datetime("us"), first, strict=False)
        .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .alias("t")
    ).to_series()
    fast = frame.select(pl.when(fast.is_between(lo, hi)).then(fast).otherwise(None)).to_series()
    todo = fast.is_null() & s.is_not_null()
    if todo.any():
        slow = frame.filter(todo).select(parse_timestamp(pl.col("s"), tz)).to_series()
        fast = fast.scatter(todo.arg_true(), slow)
    return fast.rename(name)
