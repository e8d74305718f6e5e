"""Turn a mapping YAML into typed columns and row rules.

Every field of the mapping is cleaned (TAB/apostrophe prefixes, ``——``/``-``/blank → null) and typed with the
vectorised parsers. A row breaks the contract when a required identifier is empty (missing_id), a time does not
parse (bad_date), a number does not parse (bad_number), an amount is negative (negative_amount) or an identifier
has the wrong shape (contract_violation). Broken rows go to quarantine with the first rule they break.
"""

from __future__ import annotations

import polars as pl

from data_contracts.contracts import Mapping
from data_contracts.parse import clean_text, parse_epoch, parse_number_series, parse_timestamp_series
from data_contracts.privacy_ops import mask_preview, normalise_phone_expr
from data_contracts.readers import FILE, LINE, FileUnreadable, RawRead, joined_fields

QUARANTINE_SCHEMA = {
    FILE: pl.String,
    "line_no": pl.Int64,
    "reason_code": pl.String,
    "reason": pl.String,
    "preview_masked": pl.String,
    "records": pl.Int64,
}
REASON = "_reason"
REASON_TEXT = "_reason_text"
TIME_TYPES = ("timestamp", "epoch_s", "epoch_ms")
NUMBER_TYPES = ("money", "int")


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def resolve_column(header_names: list[str], cols: tuple[str, ...]) -> str | None:
    present = set(header_names)
    for c in cols:
        if c in present:
            return c
    return None


def mapping_columns(m: Mapping, names: list[str]) -> set[str]:
    """The columns of a layout (``names``) that :func:`apply_mapping` reads: what a narrow read has to keep."""
    used = {resolve_column(names, f.cols) for f in m.fields.values()}
    used.update(c for cols in m.validate.values() for c in cols if c in names)
    return used - {None}


def check_required_columns(raw: RawRead, m: Mapping, file_name: str) -> None:
    names = raw.names
    missing = [cols[0] for cols in m.required_columns() if resolve_column(names, cols) is None]
    if missing:
        raise FileUnreadable(
            "missing_columns",
            f"{file_name}: looks like {m.title} but the column(s) {', '.join(missing)} are missing; expected a "
            f"header with {', '.join(c for cols in m.required_columns() for c in cols[:1])} "
            f"(data_contracts/mappings/{m.format}.yaml)",
        )


def _words(prefix: str, value: pl.Expr, suffix: str) -> pl.Expr:
    return pl.concat_str([pl.lit(prefix), value.fill_null("").str.slice(0, 40), pl.lit(suffix)])


def _typed(raw_expr: pl.Expr, ftype: str, tz: str, money_unit: str) -> pl.Expr:
    if ftype == "timestamp":
        return pl.lit(None, pl.Datetime("us", "UTC"))  # filled eagerly by parse_timestamp_series
    if ftype == "epoch_s":
        return parse_epoch(raw_expr, "s")
    if ftype == "epoch_ms":
        return parse_epoch(raw_expr, "ms")
    if ftype in NUMBER_TYPES:
        return pl.lit(None, pl.Float64 if ftype == "money" else pl.Int64)  # filled eagerly by parse_number_series
    if ftype == "phone":
        return normalise_phone_expr(raw_expr)
    return raw_expr


def apply_mapping(
    raw: RawRead, m: Mapping, tz: str, file_name: str = ""
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed frame (one column per mapping field, ``<field>__raw`` for the cleaned text, plus ``_line``) with
    contract-breaking rows removed, and the quarantine rows for them."""
    check_required_columns(raw, m, file_name)
    df = raw.frame
    names = raw.names
    exprs: list[pl.Expr] = [pl.col(FILE), pl.col(LINE)]
    rules: list[tuple[pl.Expr, str, pl.Expr]] = []  # (broken?, code, words)
    checks: list[tuple[str, str, str]] = []  # (raw col name in frame, type, header name)
    for f in m.fields.values():
        col = resolve_column(names, f.cols)
        rawname = f"{f.name}__raw"
        if col is None:
            exprs.append(pl.lit(None, dtype=pl.String).alias(rawname))
        else:
            exprs.append(clean_text(col).alias(rawname))
        checks.append((rawname, f.type, col or f.cols[0], f))
    for ftype, cols in m.validate.items():
        for c in cols:
            if c in names:
                rawname = f"_v_{c}__raw"
                exprs.append(clean_text(c).alias(rawname))
                checks.append((rawname, ftype, c, None))
    typed = df.select(exprs)
    out_exprs = []
    for rawname, ftype, header, f in checks:
        r = pl.col(rawname)
        t = _typed(r, ftype, tz, m.money_unit)
        tname = f.name if f is not None else rawname.replace("__raw", "")
        out_exprs.append(t.alias(tname))
        required = f is not None and f.required
        if required and ftype not in TIME_TYPES and ftype not in NUMBER_TYPES:
            rules.append((r.is_null(), "missing_id", pl.lit(f"{header} is empty; every row needs it")))
    typed = typed.with_columns(out_exprs)
    # timestamps eagerly with a fast path (one strptime per column instead of a dozen)
    ts_cols = [
        (rawname, f.name if f is not None else rawname.replace("__raw", ""))
        for rawname, ftype, _h, f in checks
        if ftype == "timestamp"
    ]
    if ts_cols and typed.height:
        typed = typed.with_columns([parse_timestamp_series(typed[r], tz).alias(t) for r, t in ts_cols])
    num_cols = [
        (rawname, f.name if f is not None else rawname.replace("__raw", ""), ftype)
        for rawname, ftype, _h, f in checks
        if ftype in NUMBER_TYPES
    ]
    if num_cols and typed.height:
        typed = typed.with_columns(
            [parse_number_series(typed[r], ftype, m.money_unit).alias(t) for r, t, ftype in num_cols]
        )
    # rule order: missing id, bad date, bad number, negative amount, shape
    for rawname, ftype, header, f in checks:
        tname = f.name if f is not None else rawname.replace("__raw", "")
        r, t = pl.col(rawname), pl.col(tname)
        required = f is not None and f.required
        if ftype in TIME_TYPES:
            broken = (r.is_not_null() & t.is_null()) | (pl.lit(required) & r.is_null())
            rules.append(
                (
                    broken,
                    "bad_date",
                    _words(f"{header} is '", r, "', not a date/time like 2024-10-04 11:42:00"),
                )
            )
    for rawname, ftype, header, f in checks:
        tname = f.name if f is not None else rawname.replace("__raw", "")
        r, t = pl.col(rawname), pl.col(tname)
        required = f is not None and f.required
        if ftype in NUMBER_TYPES:
            broken = (r.is_not_null() & t.is_null()) | (pl.lit(required) & r.is_null())
            rules.append((broken, "bad_number", _words(f"{header} is '", r, "', not a number")))
    for rawname, ftype, header, _f in checks:
        tname = _f.name if _f is not None else rawname.replace("__raw", "")
        r, t = pl.col(rawname), pl.col(tname)
        if ftype == "money":
            broken = t.is_not_null() & ((t < 0) | r.str.starts_with("-"))
            rules.append(
                (broken, "negative_amount", _words(f"{header} is negative (", r, "); amounts are ≥ 0"))
            )
    for rawname, _ftype, header, f in checks:
        if f is not None and f.pattern:
            r = pl.col(rawname)
            broken = r.is_not_null() & ~r.str.contains(f.pattern)
            rules.append(
                (broken, "contract_violation", _words(f"{header} '", r, f"' does not match {f.pattern}"))
            )
    for name in m.require_any:
        f = m.fields[name]
        rules.append(
            (
                pl.col(f"{name}__raw").is_null(),
                "missing_id",
                pl.lit(f"{f.cols[0]} is empty; every row needs it"),
            )
        )
    typed = add_reason(typed, rules)
    return split_quarantine(typed, raw)


def add_reason(df: pl.DataFrame, rules: list[tuple[pl.Expr, str, pl.Expr]]) -> pl.DataFrame:
    """First broken rule wins; rows already carrying a reason keep it.

    A rule's test may look at the whole frame (a duplicate test does); its words must be a row's own (they are
    built only for the rows the rule breaks). Which rule each row breaks is found first, as a small integer, over
    every row; the codes and words are made for the broken rows alone — most batches break none, and building a
    text column of a million mostly-empty rows for every rule cost more than testing the rules."""
    had = REASON in df.columns
    if not had:
        df = df.with_columns(
            pl.lit(None, pl.String).alias(REASON), pl.lit(None, pl.String).alias(REASON_TEXT)
        )
    if not rules:
        return df
    first = pl.when(rules[0][0].fill_null(False)).then(pl.lit(0, pl.UInt16))
    for i, (broken, _c, _w) in enumerate(rules[1:], start=1):
        first = first.when(broken.fill_null(False)).then(pl.lit(i, pl.UInt16))
    # lazily: a lazy query evaluates each test once however often it appears (a pattern rule is a regex per row)
    first = first.otherwise(None)
    if had:
        first = pl.when(pl.col(REASON).is_null()).then(first)
    hit = df.lazy().select(first.alias("_rule")).collect()["_rule"]
    rows = hit.is_not_null().arg_true()
    if rows.len() == 0:
        return df
    sub = df[rows].with_columns(hit.gather(rows).alias("_rule"))
    code = pl.col("_rule").replace_strict(
        {i: c for i, (_b, c, _w) in enumerate(rules)}, return_dtype=pl.String
    )
    text = pl.when(pl.col("_rule") == 0).then(rules[0][2])
    for i, (_b, _c, words) in enumerate(rules[1:], start=1):
        text = text.when(pl.col("_rule") == i).then(words)
    made = sub.select(code.alias(REASON), text.otherwise(None).cast(pl.String).alias(REASON_TEXT))
    return df.with_columns(
        df[REASON].clone().scatter(rows, made[REASON]),
        df[REASON_TEXT].clone().scatter(rows, made[REASON_TEXT]),
    )


def split_quarantine(
    typed: pl.DataFrame, source: RawRead | pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows with a reason → quarantine rows, previewed (masked) from ``source``: the read (whole records) or a
    frame of text columns joined by commas."""
    bad = typed.filter(pl.col(REASON).is_not_null())
    good = typed.filter(pl.col(REASON).is_null())
    if bad.height == 0:
        return good, empty_quarantine()
    keys = bad.select(FILE, LINE)
    if isinstance(source, RawRead):
        previews = source.record_text(keys)
    else:
        previews = joined_fields(source.join(keys, on=[FILE, LINE], how="semi"))
    previews = previews.with_columns(
        pl.Series("preview_masked", [mask_preview(p) for p in previews["_p"].to_list()], dtype=pl.String)
    ).drop("_p")
    q = bad.join(previews, on=[FILE, LINE], how="left").select(
        pl.col(FILE),
        pl.col(LINE).alias("line_no"),
        pl.col(REASON).alias("reason_code"),
        pl.col(REASON_TEXT).fill_null("").alias("reason"),
        pl.col("preview_masked").fill_null(""),
        pl.lit(1, dtype=pl.Int64).alias("records"),
    )
    return good, q


def reader_rejects_to_quarantine(raw: RawRead) -> pl.DataFrame:
    if raw.rejects.height == 0:
        return empty_quarantine()
    rows = [
        (f, ln, code, words, mask_preview(pv), 1)
        for f, ln, code, words, pv in raw.rejects.select(
            FILE, LINE, "reason_code", "reason", "preview"
        ).iter_rows()
    ]
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA, orient="row")
