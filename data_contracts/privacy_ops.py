"""Vectorised privacy helpers: keyed hashes computed once per distinct value, masks for quarantine previews."""

from __future__ import annotations

import re

import polars as pl

from xiaoshuju.privacy import keyed_hash

PHONE_RE = r"1[3-9]\d{9}"


def normalise_phone_expr(e: pl.Expr) -> pl.Expr:
    """Digits only, +86/0086 dropped; masked phones (``134****8175``) and non-mobile shapes → null."""
    d = e.str.replace_all(r"\D", "")
    d = pl.when(d.str.starts_with("0086")).then(d.str.slice(4)).otherwise(d)
    d = pl.when(d.str.starts_with("86") & (d.str.len_chars() == 13)).then(d.str.slice(2)).otherwise(d)
    return pl.when(e.str.contains("*", literal=True) | (d.str.len_chars() < 7)).then(None).otherwise(d)


def mask_phone_expr(e: pl.Expr) -> pl.Expr:
    """``13812345678`` → ``138****5678``; already-masked values kept."""
    d = e.str.replace_all(r"[^\d*]", "")
    d = pl.when(d.str.starts_with("0086")).then(d.str.slice(4)).otherwise(d)
    d = pl.when(d.str.starts_with("86") & (d.str.len_chars() == 13)).then(d.str.slice(2)).otherwise(d)
    return (
        pl.when(d.str.len_chars() >= 7)
        .then(pl.concat_str([d.str.slice(0, 3), pl.lit("****"), d.str.slice(-4)]))
        .otherwise(None)
    )


def mask_name_expr(e: pl.Expr) -> pl.Expr:
    """First character kept, the rest starred: ``王小明`` → ``王**``."""
    n = e.str.len_chars()
    return pl.when(n > 0).then(
        pl.concat_str([e.str.slice(0, 1), pl.lit("*").repeat_by(pl.max_horizontal(n - 1, 1)).list.join("")])
    )


def hash_values(values: pl.Series, key: bytes, kind: str) -> pl.Series:
    """Keyed hash of each value; computed once per distinct value (people repeat across millions of rows)."""
    uniq = values.drop_nulls().unique()
    mapping = {v: keyed_hash(v, key, kind) for v in uniq.to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def key_series(values: pl.Series, key: bytes, id_type: str) -> pl.Series:
    """``<id_type>:<hash>`` identity keys (null stays null)."""
    h = hash_values(values, key, id_type)
    return pl.select(pl.concat_str([pl.lit(id_type + ":"), pl.lit(h)])).to_series().rename(values.name)


_DIGITS = re.compile(r"\d{5,}")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{5,}")


def mask_field(v: str) -> str:
    v = v.strip().lstrip("\t'")
    if not v:
        return ""
    v = _DIGITS.sub(lambda m: m.group(0)[:3] + "****" + (m.group(0)[-2:] if len(m.group(0)) > 8 else ""), v)
    v = _TOKEN.sub(lambda m: m.group(0)[:3] + "***", v)
    if re.search(r"[\u4e00-\u9fff\U0001F000-\U0001FFFF]", v) and len(v) > 1:
        v = v[0] + "*" * min(len(v) - 1, 8)
    return v


def mask_preview(text: str | None, limit: int = 200) -> str:
    """A quarantined record with names, phones and ids masked field by field (the original stays in the archive)."""
    if not text:
        return ""
    return ",".join(mask_field(f) for f in str(text).replace("\r", "").replace("\n", " ").split(","))[:limit]
