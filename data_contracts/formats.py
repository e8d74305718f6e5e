"""Per-format transforms: typed, contract-checked frames → the ``ingest.*`` record tables (no raw PII leaves here).

Files of one format and header are processed as one batch (one DuckDB scan, one pass of polars expressions); every
row keeps its file (``_file`` = sha256) and physical line. Personal identifiers become identity keys
``<id_type>:<keyed hash>``; names and phones leave only as masked text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from data_contracts.contracts import Mapping, mapping
from data_contracts.privacy_ops import (
    PHONE_RE,
    key_series,
    mask_name_expr,
    mask_names_in_text,
    mask_phone_expr,
    name_pieces_expr,
)
from data_contracts.readers import (
    FILE,
    LINE,
    FileUnreadable,
    RawRead,
    SourceFile,
    read_csv_batch,
    read_json_document,
    read_jsonl_batch,
    read_xlsx,
)
from data_contracts.rules import (
    QUARANTINE_SCHEMA,
    REASON,
    add_reason,
    apply_mapping,
    empty_quarantine,
    mapping_columns,
    reader_rejects_to_quarantine,
    split_quarantine,
)

UTC_DT = pl.Datetime("us", "UTC")
SHA = "source_file_sha256"
BOUNDS_SCHEMA = {FILE: pl.String, "lo": UTC_DT, "hi": UTC_DT}


@dataclass
class BatchContext:
    fmt: str
    files: list[SourceFile]
    tz: str
    hmac_key: bytes

    @property
    def names(self) -> dict[str, str]:
        return {f.sha: f.name for f in self.files}


@dataclass
class Parsed:
    """The outcome of one batch: ingest rows, quarantine rows (with ``_file``), records in and event-time bounds
    per file."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    quarantine: pl.DataFrame = field(default_factory=empty_quarantine)
    rows_in: dict[str, int] = field(default_factory=dict)
    bounds: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=BOUNDS_SCHEMA))


# ---- helpers ----------------------------------------------------------------------------------------------------


def _key(df: pl.DataFrame, col: str, ctx: BatchContext, id_type: str) -> pl.Series:
    if col not in df.columns or df[col].dtype == pl.Null:
        return pl.Series(col, [None] * df.height, dtype=pl.String)
    return key_series(df[col].cast(pl.String), ctx.hmac_key, id_type)


def _keys_frame(
    ctx: BatchContext,
    df: pl.DataFrame,
    key: str,
    id_type: str,
    seen_at: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    confidence: str = "high",
    is_staff: str | None = None,
    customer_since: str | None = None,
) -> pl.DataFrame:
    """Identity keys seen in this batch, one row per (key, file). Column arguments name columns of ``df``; the masked
    name is the most frequent one of the key in the file, ties broken by value. Only the columns named are
    aggregated (a per-group aggregate of an all-null column costs as much as a real one)."""
    cols = {"seen_at": (seen_at, UTC_DT), "phone_masked": (phone, pl.String), "customer_since": (customer_since, UTC_DT)}
    sel = df.select(
        pl.col(key).alias("key"),
        pl.col(FILE),
        *[pl.col(src).cast(dtype).alias(out) for out, (src, dtype) in cols.items() if src],
        *([pl.col(name).cast(pl.String).alias("name_masked")] if name else []),
        *([pl.col(is_staff).cast(pl.Boolean).alias("is_staff")] if is_staff else []),
    ).filter(pl.col("key").is_not_null())
    aggs = [
        pl.col("seen_at").min() if seen_at else None,
        pl.col("phone_masked").drop_nulls().first() if phone else None,
        pl.col("is_staff").any() if is_staff else None,
        pl.col("customer_since").min() if customer_since else None,
    ]
    aggs = [a for a in aggs if a is not None]
    out = sel.group_by("key", FILE).agg(aggs) if aggs else sel.select("key", FILE).unique()
    if name:
        # mode by counting (key, file, name) first: one small sort per key instead of a per-group mode()
        names = (
            sel.filter(pl.col("name_masked").is_not_null())
            .group_by("key", FILE, "name_masked")
            .len()
            .group_by("key", FILE)
            .agg(pl.col("name_masked").sort_by("len", "name_masked", descending=[True, False]).first())
        )
        out = out.join(names, on=["key", FILE], how="left")
    return out.select(
        "key",
        *[pl.col(c) if c in out.columns else pl.lit(None, dtype).alias(c) for c, (_, dtype) in cols.items()],
        pl.col("name_masked") if name else pl.lit(None, pl.String).alias("name_masked"),
        pl.col("is_staff") if is_staff else pl.lit(False).alias("is_staff"),
        pl.lit(id_type).alias("id_type"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.lit(confidence).alias("confidence"),
        pl.col(FILE).alias(SHA),
    )


def _edges(ctx: BatchContext, df: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    return (
        df.select(pl.col(a).alias("key_a"), pl.col(b).alias("key_b"), pl.col(FILE).alias(SHA))
        .filter(
            pl.col("key_a").is_not_null()
            & pl.col("key_b").is_not_null()
            & (pl.col("key_a") != pl.col("key_b"))
        )
        .unique()
        .with_columns(pl.lit(ctx.fmt).alias("source_format"))
    )


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f is not None and f.height]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")


def _map_values(e: pl.Expr, values: dict[str, str], default: str | None) -> pl.Expr:
    return e.replace_strict(values, default=default, return_dtype=pl.String)


def _bounds(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    cols = [c for c in cols if c in df.columns]
    if not cols or df.height == 0:
        return pl.DataFrame(schema=BOUNDS_SCHEMA)
    return df.group_by(FILE).agg(
        pl.min_horizontal([pl.col(c).min() for c in cols]).cast(UTC_DT).alias("lo"),
        pl.max_horizontal([pl.col(c).max() for c in cols]).cast(UTC_DT).alias("hi"),
    )


def _dup_rule(df: pl.DataFrame, cols: list[str], words: str) -> pl.DataFrame:
    """Later repeats of a natural key within one file → duplicate_key (the first occurrence is kept)."""
    dup = pl.struct([*cols, FILE]).is_first_distinct().not_() & pl.all_horizontal(
        [pl.col(c).is_not_null() for c in cols]
    )
    return add_reason(df, [(dup, "duplicate_key", pl.lit(words))])


def _ensure(
    df: pl.DataFrame, text: tuple[str, ...] = (), num: tuple[str, ...] = (), ts: tuple[str, ...] = ()
):
    return df.with_columns(
        [pl.lit(None, pl.String).alias(c) for c in text if c not in df.columns]
        + [pl.lit(None, pl.Float64).alias(c) for c in num if c not in df.columns]
        + [pl.lit(None, UTC_DT).alias(c) for c in ts if c not in df.columns]
    )


# ---- orders -----------------------------------------------------------------------------------------------------

ORDER_TEXT_FIELDS = (
    "buyer_phone",
    "buyer_phone__raw",
    "seller_phone",
    "seller_phone__raw",
    "seller_id",
    "buyer_id",
    "buyer_wxid",
    "buyer_email",
    "seller_name",
    "buyer_name",
    "order_type",
    "status_raw",
    "refund_status_raw",
    "leader_flag",
    "fulfillment_raw",
    "product_name",
)
ORDER_NUM_FIELDS = (
    "items_amount",
    "freight",
    "discount_amount",
    "receivable_amount",
    "refund_amount",
    "item_count",
    "unit_price",
    "quantity",
    "line_amount",
    "paid_amount",
)


def _order_frames(ctx: BatchContext, m: Mapping, df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    src = m.source
    df = _ensure(df, ORDER_TEXT_FIELDS, ORDER_NUM_FIELDS, ("paid_at", "completed_at", "cancelled_at"))
    df = df.with_columns(
        (pl.lit(src + ":") + pl.col("source_order_no")).alias("order_id"),
        _key(df, "buyer_phone", ctx, "phone").alias("k_phone"),
        _key(df, "seller_phone", ctx, "phone").alias("k_seller_phone"),
        _key(df, "seller_id", ctx, "platform_buyer").alias("k_seller_id"),
        _key(df, "buyer_id", ctx, "platform_buyer").alias("k_buyer_id"),
        _key(df, "buyer_wxid", ctx, "wxid").alias("k_buyer_wxid"),
        _key(df, "buyer_email", ctx, "email").alias("k_email"),
        _key(df, "seller_name", ctx, "distributor_name").alias("k_seller_name"),
        mask_name_expr(pl.col("buyer_name")).alias("buyer_name_masked"),
        mask_phone_expr(pl.col("buyer_phone")).alias("buyer_phone_masked0"),
        mask_phone_expr(pl.col("buyer_phone__raw")).alias("buyer_phone_masked1"),
        mask_phone_expr(pl.col("seller_phone")).alias("seller_phone_masked"),
    ).with_columns(
        pl.coalesce(["buyer_phone_masked0", "buyer_phone_masked1"]).alias("buyer_phone_masked"),
    )
    bounds = _bounds(df, ["created_at", "paid_at", "completed_at", "cancelled_at"])
    df = df.join(bounds.select(FILE, pl.col("hi").alias("export_ts")), on=FILE, how="left")
    # one order per (order_id, file): Shopify / canonical files carry one row per line item, order fields first
    first = (
        df.sort(FILE, LINE).group_by("order_id", FILE, maintain_order=True).first() if m.line_items else df
    )
    refund_amount = pl.col("refund_amount").fill_null(0.0)
    paid = pl.col("paid_amount").fill_null(0.0)
    by_amount = (
        pl.when(refund_amount <= 0)
        .then(pl.lit("none"))
        .when(refund_amount >= paid)
        .then(pl.lit("full"))
        .otherwise(pl.lit("partial"))
    )
    if m.values.get("refund_status"):
        mapped = _map_values(pl.col("refund_status_raw"), m.values["refund_status"], None)
        refund_status = pl.when(mapped.is_null() | (mapped == "none")).then(by_amount).otherwise(mapped)
    else:
        refund_status = by_amount
    status = _map_values(pl.col("status_raw"), m.values.get("status", {}), "other")
    if src == "shopify":
        status = (
            pl.when(pl.col("cancelled_at").is_not_null())
            .then(pl.lit("closed"))
            .when((status == "paid") & (pl.col("fulfillment_raw") == "fulfilled"))
            .then(pl.lit("completed"))
            .otherwise(status)
        )
    buyer_key = pl.coalesce(
        [pl.col("k_phone"), pl.col("k_buyer_id"), pl.col("k_buyer_wxid"), pl.col("k_email")]
    )
    orders = (
        first.with_columns(
            status.alias("status0"),
            refund_status.alias("refund_status"),
            refund_amount.alias("refund_amount"),
            paid.alias("paid_amount"),
        )
        .with_columns(
            pl.when(pl.col("refund_status") == "full")
            .then(pl.lit("refunded"))
            .otherwise(pl.col("status0"))
            .alias("status"),
            (pl.col("paid_at").is_not_null() & (pl.col("paid_amount") > 0)).alias("is_paid"),
        )
        .select(
            "order_id",
            pl.lit(src).alias("source"),
            "source_order_no",
            pl.lit(ctx.fmt).alias("source_format"),
            buyer_key.alias("buyer_key"),
            "buyer_name_masked",
            "buyer_phone_masked",
            pl.col("order_type").cast(pl.String),
            "status",
            pl.col("status_raw").cast(pl.String),
            "is_paid",
            pl.col("created_at").cast(UTC_DT),
            pl.col("paid_at").cast(UTC_DT),
            pl.col("completed_at").cast(UTC_DT),
            *[
                pl.col(c).cast(pl.Float64)
                for c in ("items_amount", "freight", "discount_amount", "receivable_amount", "paid_amount")
            ],
            "refund_status",
            pl.col("refund_amount").cast(pl.Float64),
            (pl.col("paid_amount") - pl.when(pl.col("is_paid")).then(pl.col("refund_amount")).otherwise(0.0))
            .round(2)
            .alias("net_amount"),
            pl.coalesce([pl.col("k_seller_phone"), pl.col("k_seller_id")]).alias("seller_key"),
            pl.col("k_seller_name").alias("seller_name_key"),
            (pl.col("leader_flag").is_in(["是", "1", "true"]) | pl.col("order_type").str.contains("接龙"))
            .fill_null(False)
            .alias("is_leader_order"),
            pl.col("item_count").cast(pl.Int32),
            pl.col(FILE).alias(SHA),
            pl.col(LINE).alias("source_line"),
            pl.col("export_ts").cast(UTC_DT),
        )
    )
    out = {"orders": orders}
    if m.line_items:
        out["order_lines"] = (
            df.sort(FILE, LINE)
            .with_columns(pl.col(LINE).rank("ordinal").over("order_id", FILE).cast(pl.Int32).alias("line_no"))
            .select(
                "order_id",
                "line_no",
                pl.col("product_name").cast(pl.String),
                pl.col("unit_price").cast(pl.Float64),
                pl.col("quantity").cast(pl.Int32),
                pl.coalesce(
                    [pl.col("line_amount").cast(pl.Float64), pl.col("unit_price") * pl.col("quantity")]
                )
                .round(2)
                .alias("line_amount"),
                pl.lit(None, pl.String).alias("refund_status"),
                pl.lit(0.0).alias("refund_amount"),
                pl.coalesce([pl.col("k_seller_phone"), pl.col("k_seller_id")]).alias("seller_key"),
                pl.col(FILE).alias(SHA),
                pl.col(LINE).alias("source_line"),
                pl.col("export_ts").cast(UTC_DT),
            )
        )
    out["id_keys"] = _concat(
        [
            _keys_frame(ctx, df, "k_phone", "phone", "created_at", "buyer_name_masked", "buyer_phone_masked"),
            _keys_frame(ctx, df, "k_buyer_id", "platform_buyer", "created_at", "buyer_name_masked"),
            _keys_frame(ctx, df, "k_buyer_wxid", "wxid", "created_at", "buyer_name_masked"),
            _keys_frame(ctx, df, "k_email", "email", "created_at", "buyer_name_masked"),
            _keys_frame(ctx, df, "k_seller_phone", "phone", None, None, "seller_phone_masked"),
            _keys_frame(ctx, df, "k_seller_id", "platform_buyer"),
        ]
    )
    out["id_edges"] = _concat(
        [
            _edges(ctx, df, "k_phone", "k_buyer_id"),
            _edges(ctx, df, "k_phone", "k_buyer_wxid"),
            _edges(ctx, df, "k_phone", "k_email"),
            _edges(ctx, df, "k_buyer_id", "k_buyer_wxid"),
            _edges(ctx, df, "k_seller_phone", "k_seller_id"),
        ]
    )
    # 分销员 name → seller phone (for customers' and KTT's name-only bindings)
    out["seller_names"] = (
        df.select(
            pl.col("k_seller_name").alias("name_key"),
            pl.coalesce([pl.col("k_seller_phone"), pl.col("k_seller_id")]).alias("key"),
            pl.col(FILE).alias(SHA),
        )
        .filter(pl.col("name_key").is_not_null() & pl.col("key").is_not_null())
        .group_by("name_key", "key", SHA)
        .len("n")
    )
    out["_bounds"] = bounds
    return out


def _order_line_frames(ctx: BatchContext, m: Mapping, df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    df = _ensure(df, ("seller_phone", "refund_status_raw", "product_name"), ("refund_amount",))
    df = df.with_columns(
        (pl.lit(m.source + ":") + pl.col("source_order_no")).alias("order_id"),
        _key(df, "seller_phone", ctx, "phone").alias("k_seller_phone"),
        mask_phone_expr(pl.col("seller_phone")).alias("seller_phone_masked"),
    )
    refund_amount = pl.col("refund_amount").fill_null(0.0)
    lines = (
        df.sort(FILE, LINE)
        .with_columns(pl.col(LINE).rank("ordinal").over("order_id", FILE).cast(pl.Int32).alias("line_no"))
        .select(
            "order_id",
            "line_no",
            pl.col("product_name").cast(pl.String),
            pl.col("unit_price").cast(pl.Float64),
            pl.col("quantity").cast(pl.Int32),
            pl.col("line_amount").cast(pl.Float64),
            _map_values(pl.col("refund_status_raw"), m.values.get("refund_status", {}), None)
            .fill_null(pl.when(refund_amount > 0).then(pl.lit("partial")).otherwise(pl.lit("none")))
            .alias("refund_status"),
            refund_amount.cast(pl.Float64).alias("refund_amount"),
            pl.col("k_seller_phone").alias("seller_key"),
            pl.col(FILE).alias(SHA),
            pl.col(LINE).alias("source_line"),
            pl.lit(None, UTC_DT).alias("export_ts"),
        )
    )
    return {
        "order_lines": lines,
        "id_keys": _keys_frame(ctx, df, "k_seller_phone", "phone", None, None, "seller_phone_masked"),
        "_bounds": _bounds(df, ["_v_商品发货时间"]),
    }


# ---- customers, invite records ---------------------------------------------------------------------------------


def _customer_frames(ctx: BatchContext, m: Mapping, df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    df = df.with_columns(
        _key(df, "phone", ctx, "phone").alias("k_phone"),
        _key(df, "distributor_name", ctx, "distributor_name").alias("k_dist"),
        mask_name_expr(pl.coalesce([pl.col("nickname"), pl.col("customer_name")])).alias("name_m"),
        mask_phone_expr(pl.col("phone")).alias("phone_m"),
    )
    refs = df.filter(
        pl.col("k_dist").is_not_null()
        & pl.col("k_phone").is_not_null()
        & pl.col("customer_since").is_not_null()
    ).select(
        pl.col("k_dist").alias("referrer_key"),
        pl.col("k_phone").alias("referee_key"),
        pl.col("customer_since").cast(UTC_DT).alias("referred_at"),
        pl.lit("distributor_binding").alias("channel"),
        pl.lit(None, pl.String).alias("group_key"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.col(FILE).alias(SHA),
    )
    return {
        "id_keys": _keys_frame(
            ctx,
            df,
            "k_phone",
            "phone",
            "customer_since",
            "name_m",
            "phone_m",
            customer_since="customer_since",
        ),
        "referrals": refs,
        "_bounds": _bounds(df, ["customer_since"]),
    }


def _invite_frames(ctx: BatchContext, m: Mapping, df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    df = _ensure(df, ("inviter_phone", "invitee_phone", "inviter_name", "invitee_name"))
    df = df.with_columns(
        _key(df, "inviter_id", ctx, "platform_buyer").alias("k_ri"),
        _key(df, "inviter_phone", ctx, "phone").alias("k_rp"),
        _key(df, "invitee_id", ctx, "platform_buyer").alias("k_ei"),
        _key(df, "invitee_phone", ctx, "phone").alias("k_ep"),
        mask_name_expr(pl.col("inviter_name")).alias("rn"),
        mask_name_expr(pl.col("invitee_name")).alias("en"),
        mask_phone_expr(pl.col("inviter_phone")).alias("rp"),
        mask_phone_expr(pl.col("invitee_phone")).alias("ep"),
    )
    refs = df.select(
        pl.coalesce([pl.col("k_ri"), pl.col("k_rp")]).alias("referrer_key"),
        pl.coalesce([pl.col("k_ei"), pl.col("k_ep")]).alias("referee_key"),
        pl.col("invited_at").cast(UTC_DT).alias("referred_at"),
        pl.lit("invite_record").alias("channel"),
        pl.lit(None, pl.String).alias("group_key"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.col(FILE).alias(SHA),
    )
    return {
        "id_keys": _concat(
            [
                _keys_frame(ctx, df, "k_ri", "platform_buyer", None, "rn", "rp"),
                _keys_frame(ctx, df, "k_rp", "phone", None, "rn", "rp"),
                _keys_frame(ctx, df, "k_ei", "platform_buyer", "invited_at", "en", "ep"),
                _keys_frame(ctx, df, "k_ep", "phone", "invited_at", "en", "ep"),
            ]
        ),
        "id_edges": _concat([_edges(ctx, df, "k_ri", "k_rp"), _edges(ctx, df, "k_ei", "k_ep")]),
        "referrals": refs,
        "_bounds": _bounds(df, ["invited_at"]),
    }


# ---- personal-WeChat chat ---------------------------------------------------------------------------------------

WECHAT_KINDS = {
    (1, 0): "text",
    (3, 0): "image",
    (34, 0): "voice",
    (43, 0): "video",
    (47, 0): "sticker",
    (49, 5): "link",
    (49, 33): "miniprogram",
    (49, 36): "miniprogram",
    (49, 53): "solitaire",
    (49, 57): "quote",
    (49, 2000): "transfer",
    (49, 2001): "redpacket",
}
QUESTION_RE = r"[？?]\s*$|吗\s*[。！!～~]*\s*$|多少钱|^有没有"
# (regex, event, scene, inviter group or 'owner' or None, member group)
SYS_PATTERNS = [
    (r'^"(.+)"邀请"(.+)"加入了群聊$', "join", "invite", 1, 2),
    (r'^你邀请"(.+)"加入了群聊$', "join", "invite", "owner", 1),
    (r'^"(.+)"通过扫描"(.+)"分享的二维码加入群聊$', "join", "qr", 2, 1),
    (r'^"(.+)"通过扫描你分享的二维码加入群聊$', "join", "qr", "owner", 1),
    (r'^"(.+)"将"(.+)"移出了群聊$', "leave", "removed", None, 2),
    (r'^你将"(.+)"移出了群聊$', "leave", "removed", None, 1),
    (r"^(.+?) invited (.+) to the group chat", "join", "invite", 1, 2),
    (r"^(.+?) joined the group chat via the QR Code shared by (.+?)\.?$", "join", "qr", 2, 1),
]


def _wechat_kind(type_code: pl.Expr, subtype: pl.Expr, content: pl.Expr) -> pl.Expr:
    pair = type_code.cast(pl.String) + pl.lit(",") + subtype.fill_null(0).cast(pl.String)
    mapped = pair.replace_strict(
        {f"{a},{b}": v for (a, b), v in WECHAT_KINDS.items()}, default=None, return_dtype=pl.String
    )
    return (
        pl.when(type_code == 10000)
        .then(pl.when(content.str.contains("撤回")).then(pl.lit("recall")).otherwise(pl.lit("system")))
        .when(type_code == 10002)
        .then(pl.lit("recall"))
        .otherwise(
            pl.coalesce([mapped, pl.when(type_code == 49).then(pl.lit("link")).otherwise(pl.lit("other"))])
        )
    )


def _message_common(df: pl.DataFrame) -> pl.DataFrame:
    text_like = pl.col("kind").is_in(["text", "quote"])
    content = pl.col("content").fill_null("")
    return df.with_columns(
        pl.when(text_like).then(content.str.len_chars()).otherwise(0).cast(pl.Int32).alias("length"),
        (text_like & content.str.contains(QUESTION_RE)).alias("is_question"),
    )


def _system_events(ctx: BatchContext, sysrows: pl.DataFrame) -> pl.DataFrame:
    """Join/leave events from system notices. Names are group nicknames → nickname-in-group keys (resolved to a
    member at build time when exactly one member used that nickname in the group)."""
    frames = []
    for rx, event, scene, inv, who in SYS_PATTERNS:
        hit = sysrows.with_columns(pl.col("content").str.extract_groups(rx).alias("_g")).filter(
            pl.col("_g").struct.field("1").is_not_null()
        )
        if hit.height == 0:
            continue
        hit = hit.with_columns(
            pl.col("_g").struct.field(str(who)).str.split('"和"').alias("_who"),
            (pl.col("_g").struct.field(str(inv)) if isinstance(inv, int) else pl.lit(None, pl.String)).alias(
                "_inv"
            ),
            pl.lit("owner" if inv == "owner" else None, pl.String).alias("_inv_const"),
            pl.lit(event).alias("event"),
            pl.lit(scene).alias("scene"),
        ).explode("_who")
        frames.append(
            hit.select("group_key", "sent_at", LINE, FILE, "_who", "_inv", "_inv_const", "event", "scene")
        )
    if not frames:
        return pl.DataFrame()
    ev = pl.concat(frames, how="vertical_relaxed")
    ev = ev.with_columns(
        pl.concat_str([pl.col("group_key"), pl.lit("\x1f"), pl.col("_who")]).alias("_who_n"),
        pl.concat_str([pl.col("group_key"), pl.lit("\x1f"), pl.col("_inv")]).alias("_inv_n"),
    )
    ev = ev.with_columns(
        _key(ev, "_who_n", ctx, "nickname_in_group").alias("member_key"),
        _key(ev, "_inv_n", ctx, "nickname_in_group").alias("_inv_k"),
    )
    return ev.select(
        "group_key",
        "member_key",
        "event",
        pl.col("sent_at").alias("event_at"),
        "scene",
        pl.coalesce([pl.col("_inv_const"), pl.col("_inv_k")]).alias("inviter_key"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.col(FILE).alias(SHA),
        pl.col(LINE).alias("source_line"),
    )


def _mask_group_names(groups: pl.DataFrame, people: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """Mask person names inside ``group_name`` (privacy_ops.mask_names_in_text): the names known for a group are
    the display names / nicknames / remarks of everyone in ``people`` with the same group_key. Python per distinct
    group (a few hundred per batch at most)."""
    if groups.height == 0:
        return groups
    named = groups.filter(pl.col("group_name").is_not_null()).select("group_key", "group_name").unique()
    if named.height == 0:
        return groups
    people = people.filter(pl.col("group_key").is_in(named["group_key"].implode()))
    known = (
        pl.concat([people.select("group_key", pl.col(c).cast(pl.String).alias("_n")).unique() for c in cols])
        .drop_nulls("_n")
        .unique()
        .group_by("group_key")
        .agg(pl.col("_n"))
    )
    # name pieces of the group's people that occur in its name (privacy_ops.name_pieces, vectorised: at L a batch
    # holds millions of member names, and only the few pieces inside the group name matter)
    pieces = (
        known.explode("_n")
        .select("group_key", name_pieces_expr(pl.col("_n")).alias("_p"))
        .explode("_p")
        .drop_nulls("_p")
        .unique()
    )
    found = (
        named.join(pieces, on="group_key", how="inner")
        .filter(pl.col("group_name").str.contains(pl.col("_p"), literal=True))
        .group_by("group_key", "group_name")
        .agg(pl.col("_p"))
    )
    kn = {(k, n): set(ps) for k, n, ps in found.iter_rows()}
    masked = {(k, n): mask_names_in_text(n, kn.get((k, n), ())) for k, n in named.iter_rows()}
    keys = pl.DataFrame(
        [(k, n, m) for (k, n), m in masked.items()],
        schema={"group_key": pl.String, "group_name": pl.String, "_masked": pl.String},
        orient="row",
    )
    cols_order = groups.columns
    return (
        groups.join(keys, on=["group_key", "group_name"], how="left")
        .with_columns(pl.col("_masked").alias("group_name"))
        .select(cols_order)
    )


def _wechat_records(ctx: BatchContext, df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Shared by 留痕 and PyWxDump once both have: group_key, message_id, sender, is_sender, sent_at, kind,
    content, nickname, remark."""
    df = _message_common(df)
    df = df.with_columns(
        pl.when(pl.col("kind").is_in(["system", "recall"]) & pl.col("sender").is_null())
        .then(None)
        .otherwise(pl.col("sender"))
        .alias("sender")
    )
    df = df.with_columns(_key(df, "sender", ctx, "wxid").alias("sender_key"))
    messages = df.select(
        "message_id",
        "group_key",
        "sender_key",
        pl.col("sent_at").cast(UTC_DT),
        "kind",
        "length",
        "is_question",
        (pl.col("is_sender") == 1).alias("is_owner_msg"),
        pl.lit(None, pl.String).alias("recalls_message_id"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.col(FILE).alias(SHA),
        pl.col(LINE).alias("source_line"),
    )
    # groups: the exporting account is the owner; the file name carries the group name (<群名>_<chatroom>.csv)
    stems = {sha: Path(name).stem for sha, name in ctx.names.items()}
    groups = (
        df.group_by("group_key", FILE)
        .agg(
            pl.col("sent_at").min().alias("first_at"),
            pl.col("sender_key")
            .filter(pl.col("is_sender") == 1)
            .drop_nulls()
            .mode()
            .sort()
            .first()
            .alias("owner_key"),
        )
        .with_columns(pl.col(FILE).replace_strict(stems, default="", return_dtype=pl.String).alias("_stem"))
    )
    groups = groups.select(
        "group_key",
        pl.lit("wechat").alias("source"),
        pl.when(pl.col("_stem").str.ends_with(pl.lit("_") + pl.col("group_key")))
        .then(
            pl.col("_stem").str.slice(
                0, pl.col("_stem").str.len_chars() - pl.col("group_key").str.len_chars() - 1
            )
        )
        .otherwise(None)
        .alias("group_name"),
        "owner_key",
        pl.lit(None, UTC_DT).alias("created_at"),
        pl.col("first_at").cast(UTC_DT).alias("snapshot_at"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.col(FILE).alias(SHA),
    )
    groups = _mask_group_names(groups, df, ["nickname", "remark"])
    # identities: wxid, and a phone inside Remark / NickName (an owner's nickname often carries their phone)
    senders = df.filter(pl.col("sender_key").is_not_null())
    sp = senders.group_by("sender_key", FILE).agg(
        pl.col("sent_at").min().alias("seen_at"),
        pl.col("nickname").drop_nulls().mode().sort().first().alias("nickname"),
        pl.concat_str([pl.col("remark").fill_null(""), pl.lit(" "), pl.col("nickname").fill_null("")])
        .str.extract(f"({PHONE_RE})", 1)
        .drop_nulls()
        .mode()
        .sort()
        .first()
        .alias("phone"),
    )
    sp = sp.with_columns(
        _key(sp, "phone", ctx, "phone").alias("k_phone"),
        mask_name_expr(pl.col("nickname").str.replace_all(PHONE_RE, "").str.strip_chars()).alias("name_m"),
        mask_phone_expr(pl.col("phone")).alias("phone_m"),
    )
    nn = (
        senders.filter(pl.col("nickname").is_not_null())
        .select("group_key", "nickname", "sender_key", FILE)
        .unique()
    )
    nn = nn.with_columns(pl.concat_str([pl.col("group_key"), pl.lit("\x1f"), pl.col("nickname")]).alias("_n"))
    nick = nn.with_columns(_key(nn, "_n", ctx, "nickname_in_group").alias("nick_key")).select(
        "nick_key", pl.col("sender_key").alias("key"), pl.col(FILE).alias(SHA)
    )
    sysrows = df.filter(pl.col("kind") == "system").select("group_key", "sent_at", LINE, FILE, "content")
    return {
        "messages": messages,
        "groups": groups,
        "id_keys": _concat(
            [
                _keys_frame(ctx, sp, "sender_key", "wxid", "seen_at", "name_m", "phone_m"),
                _keys_frame(ctx, sp, "k_phone", "phone", "seen_at", "name_m", "phone_m"),
            ]
        ),
        "id_edges": _edges(ctx, sp, "sender_key", "k_phone"),
        "nick_links": nick,
        "group_events": _system_events(ctx, sysrows),
        "_bounds": _bounds(df, ["sent_at"]),
    }


def _wechatmsg(ctx: BatchContext, m: Mapping, typed: pl.DataFrame, raw: RawRead):
    typed = typed.with_columns(pl.coalesce([pl.col("subtype"), pl.lit(0)]).alias("subtype"))
    typed = add_reason(
        typed,
        [
            (
                (pl.col("type_code") != 10000) & pl.col("sender").is_null(),
                "missing_id",
                pl.lit("Sender is empty on a member message; every non-system row needs the sender's wxid"),
            ),
        ],
    )
    typed = typed.with_columns(
        (pl.lit("wx:") + pl.col("room") + pl.lit(":") + pl.col("local_id")).alias("message_id"),
        pl.col("room").alias("group_key"),
        _wechat_kind(pl.col("type_code"), pl.col("subtype"), pl.col("content").fill_null("")).alias("kind"),
    )
    typed = _dup_rule(typed, ["message_id"], "localId repeated for this chat in the file")
    good, q = split_quarantine(typed, raw)
    return _wechat_records(ctx, good), q


def _pywxdump(ctx: BatchContext, m: Mapping, typed: pl.DataFrame, raw: RawRead):
    k = _map_values(pl.col("type_name"), m.values.get("kind", {}), "other")
    typed = typed.with_columns(
        pl.col("room").alias("group_key"),
        pl.when((k == "system") & pl.col("content").fill_null("").str.contains("撤回"))
        .then(pl.lit("recall"))
        .otherwise(k)
        .alias("kind"),
        (pl.lit("wx:") + pl.col("room") + pl.lit(":svr:") + pl.col("msg_svr_id")).alias("message_id"),
        pl.lit(None, pl.String).alias("nickname"),
        pl.lit(None, pl.String).alias("remark"),
    )
    typed = add_reason(
        typed,
        [
            (
                ~pl.col("kind").is_in(["system", "recall"]) & pl.col("sender").is_null(),
                "missing_id",
                pl.lit("talker is empty on a member message"),
            ),
        ],
    )
    typed = _dup_rule(typed, ["message_id"], "MsgSvrID repeated in the file")
    good, q = split_quarantine(typed, raw)
    return _wechat_records(ctx, good), q


# ---- WeCom ------------------------------------------------------------------------------------------------------

def _wecom_key(s: pl.Series, ctx: BatchContext) -> pl.Series:
    """WeCom user ids → identity keys: external contacts (``wo…``/``wm…``) vs internal (staff) ids. Keyed per
    distinct id, then mapped onto the rows (a million WeCom messages at M have ~26 k distinct senders)."""
    ids = s.cast(pl.String).rename("v")
    u = ids.drop_nulls().unique().to_frame()
    is_ext = pl.col("v").str.starts_with("wo") | pl.col("v").str.starts_with("wm")
    ext, internal = u.filter(is_ext), u.filter(~is_ext)
    keys = pl.concat(
        [
            ext.with_columns(key_series(ext["v"], ctx.hmac_key, "wecom_external").alias("k")),
            internal.with_columns(key_series(internal["v"], ctx.hmac_key, "wecom_internal").alias("k")),
        ]
    )
    return ids.to_frame().join(keys, on="v", how="left", maintain_order="left")["k"].rename(s.name)


def _wecom_archive(ctx: BatchContext, m: Mapping, raw: RawRead) -> Parsed:
    t = raw.frame.rename({"_ok": "ok"})
    t = t.with_columns(
        pl.when(pl.col("ok"))
        .then(
            pl.from_epoch(
                pl.col("msgtime").cast(pl.Int64, strict=False), time_unit="ms"
            ).dt.replace_time_zone("UTC")
        )
        .alias("sent_at")
    )
    t = add_reason(
        t,
        [
            (~pl.col("ok").fill_null(False), "bad_json", pl.lit("not a JSON object (cut or corrupted line)")),
            (pl.col("msgid").is_null(), "missing_id", pl.lit("msgid is empty")),
            (
                pl.col("sent_at").is_null() | (pl.col("sent_at").dt.year() < 2000),
                "bad_date",
                pl.concat_str(
                    [
                        pl.lit("msgtime '"),
                        pl.col("msgtime").fill_null(""),
                        pl.lit("' is not UTC milliseconds"),
                    ]
                ),
            ),
            (
                pl.col("sender").is_null() & (pl.col("action") != "switch"),
                "missing_id",
                pl.lit("from is empty"),
            ),
        ],
    )
    t = _dup_rule(t, ["msgid"], "msgid repeated in the file")
    # preview of a rejected line: the line itself when it is not JSON, else its fields
    bad_keys = t.filter(pl.col(REASON).is_not_null()).select(FILE, LINE)
    bad_lines = raw.frame.join(bad_keys, on=[FILE, LINE], how="semi")
    fields = [c for c in WECOM_ARCHIVE_FIELDS if c in bad_lines.columns]
    preview = bad_lines.select(
        FILE,
        LINE,
        pl.coalesce(pl.col("json"), pl.concat_str(fields, separator=",", ignore_nulls=True)).alias("json"),
    )
    good, q = split_quarantine(t, preview)
    good = good.filter(pl.col("action") != "switch")
    grp = good.filter(
        pl.col("roomid").is_not_null() & (pl.col("roomid") != "")
    )  # 1:1 chats are not group speech
    grp = grp.with_columns(
        pl.when(pl.col("action") == "recall")
        .then(pl.lit("recall"))
        .when((pl.col("msgtype") == "text") & pl.col("content").fill_null("").str.starts_with("#接龙"))
        .then(pl.lit("solitaire"))
        .otherwise(_map_values(pl.col("msgtype"), m.values.get("kind", {}), "other"))
        .alias("kind"),
        pl.col("roomid").alias("group_key"),
    )
    grp = _message_common(grp)
    grp = grp.with_columns(_wecom_key(grp["sender"], ctx).alias("sender_key"))
    messages = grp.select(
        (pl.lit("wecom:") + pl.col("msgid")).alias("message_id"),
        "group_key",
        "sender_key",
        pl.col("sent_at").cast(UTC_DT),
        "kind",
        "length",
        "is_question",
        pl.lit(None, pl.Boolean).alias("is_owner_msg"),
        pl.when(pl.col("pre_msgid").is_not_null())
        .then(pl.lit("wecom:") + pl.col("pre_msgid"))
        .alias("recalls_message_id"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.col(FILE).alias(SHA),
        pl.col(LINE).alias("source_line"),
    )
    senders = grp.group_by("sender", "sender_key", FILE).agg(pl.col("sent_at").min().alias("seen_at"))
    senders = senders.with_columns(
        pl.col("sender").str.contains(r"^w[om]").alias("ext"),
        pl.col("sender").str.starts_with("staff_").alias("is_staff"),
    )
    senders = senders.with_columns(
        _key(
            senders.with_columns(
                pl.when(~pl.col("ext")).then(pl.col("sender").str.extract(f"^({PHONE_RE})$", 1)).alias("_p")
            ),
            "_p",
            ctx,
            "phone",
        ).alias("k_phone")
    )
    ext, internal = senders.filter(pl.col("ext")), senders.filter(~pl.col("ext"))
    tables = {
        "messages": messages,
        "id_keys": _concat(
            [
                _keys_frame(ctx, ext, "sender_key", "wecom_external", "seen_at"),
                _keys_frame(ctx, internal, "sender_key", "wecom_internal", "seen_at", is_staff="is_staff"),
                _keys_frame(ctx, internal, "k_phone", "phone", "seen_at"),
            ]
        ),
        "id_edges": _edges(ctx, internal, "sender_key", "k_phone"),
    }
    rq = reader_rejects_to_quarantine(raw)
    return Parsed(
        tables=tables,
        quarantine=_concat([rq, q]) if (rq.height or q.height) else empty_quarantine(),
        rows_in=raw.rows_in(),
        bounds=_bounds(good, ["sent_at"]),
    )


def _wecom_detail_one(f: SourceFile, m: Mapping):
    try:
        docs = read_json_document(f.path, f.encoding)
    except UnicodeDecodeError as exc:
        raise FileUnreadable("bad_encoding", f"{f.name}: not UTF-8 text ({exc})") from exc
    if not docs:
        raise FileUnreadable("empty_file", f"{f.name}: no JSON document")
    qrows, groups, members, admins = [], [], [], []
    scenes = {int(k): v for k, v in m.values.get("join_scene", {}).items()}
    for line, d in docs:
        ln = line if line is not None else 1
        if isinstance(d, Exception):
            qrows.append((f.sha, ln, "bad_json", f"line {ln} is not valid JSON ({d.msg})", "", 1))
            continue
        gc = d.get("group_chat") if isinstance(d, dict) else None
        if gc is None and isinstance(d, dict) and "chat_id" in d:
            gc = d
        if not isinstance(gc, dict) or not gc.get("chat_id"):
            qrows.append((f.sha, ln, "missing_id", "group_chat.chat_id is missing", "", 1))
            continue
        groups.append((f.sha, gc["chat_id"], gc.get("name"), gc.get("owner"), gc.get("create_time"), ln))
        for a in gc.get("admin_list") or []:
            if isinstance(a, dict) and a.get("userid"):
                admins.append((gc["chat_id"], a["userid"]))
        for mm in gc.get("member_list") or []:
            if not isinstance(mm, dict) or not mm.get("userid"):
                continue
            inv = (mm.get("invitor") or {}).get("userid")
            mob = [x for x in (mm.get("remark_mobiles") or []) if x]
            scene = scenes.get(int(mm.get("join_scene") or 0), "organic") if inv else "organic"
            members.append(
                (
                    f.sha,
                    gc["chat_id"],
                    mm["userid"],
                    int(mm.get("type") or 0),
                    mm.get("unionid"),
                    mm.get("join_time"),
                    scene,
                    inv,
                    mob[0] if mob else None,
                    ln,
                    mm.get("group_nickname") or mm.get("name"),
                    mm.get("name"),
                )
            )
    return len(docs), qrows, groups, members, admins


_WD_MEMBER = pl.Struct(
    {
        "userid": pl.String,
        "type": pl.Int64,
        "unionid": pl.String,
        "join_time": pl.Int64,
        "join_scene": pl.Int64,
        "invitor": pl.Struct({"userid": pl.String}),
        "remark_mobiles": pl.List(pl.String),
        "group_nickname": pl.String,
        "name": pl.String,
    }
)
_WD_GROUP = {
    "chat_id": pl.String,
    "name": pl.String,
    "owner": pl.String,
    "create_time": pl.Int64,
    "member_list": pl.List(_WD_MEMBER),
    "admin_list": pl.List(pl.Struct({"userid": pl.String})),
}
_WD_SCHEMA = {"group_chat": pl.Struct(_WD_GROUP), **_WD_GROUP}  # the group under group_chat, or the line itself
_WD_GROUPS = {
    FILE: pl.String,
    "group_key": pl.String,
    "group_name": pl.String,
    "owner": pl.String,
    "create_time": pl.Int64,
    LINE: pl.Int64,
}
_WD_MEMBERS = {
    FILE: pl.String,
    "group_key": pl.String,
    "userid": pl.String,
    "type": pl.Int64,
    "unionid": pl.String,
    "join_time": pl.Int64,
    "scene": pl.String,
    "invitor": pl.String,
    "mobile": pl.String,
    LINE: pl.Int64,
    "nickname": pl.String,
    "member_name": pl.String,
}
_WD_ADMINS = {"group_key": pl.String, "userid": pl.String}


def _wecom_detail_fast(f: SourceFile, m: Mapping):
    """:func:`_wecom_detail_one` for a file of JSON lines that polars' JSON reader takes whole against the
    documented shape (one columnar parse instead of json.loads and a Python loop per member: 5–7× faster). Any
    other file — bad bytes or lines, a document over several lines, a value that does not fit its field (text
    where a number goes, an object where a list goes) — returns None and is read by :func:`_wecom_detail_one`,
    which says what is wrong with it. (A number where text goes is read as its digits.)"""
    if (f.encoding or "utf-8").lower() not in ("utf-8", "utf8"):
        return None
    try:
        data = Path(f.path).read_bytes()
        text = data.decode("utf-8", errors="strict")
    except (OSError, UnicodeDecodeError):
        return None
    if text.startswith("\ufeff"):
        return None
    physical = text.splitlines()
    lines = [i for i, line in enumerate(physical, start=1) if line.strip()]
    if not lines:
        return None
    try:
        df = pl.read_ndjson(data, schema=_WD_SCHEMA)
    except Exception:  # noqa: BLE001 - not of the documented shape: the line-by-line reader takes the file
        return None
    if df.height != len(lines):
        return None
    # one document in the file: json.loads of the whole text succeeds and its record counts as line 1
    single = len(lines) == 1 and text.strip(" \t\n\r") == physical[lines[0] - 1].strip(" \t\n\r")
    df = df.with_columns(pl.Series(LINE, [1] if single else lines, dtype=pl.Int64))
    gc = (
        df.select(
            LINE,
            pl.when(pl.col("group_chat").is_not_null())
            .then(pl.col("group_chat"))
            .otherwise(pl.struct([pl.col(c) for c in _WD_GROUP]))
            .alias("gc"),
        )
        .unnest("gc")
        .with_columns(pl.lit(f.sha).alias(FILE))
    )
    has_id = pl.col("chat_id").is_not_null() & (pl.col("chat_id") != "")
    q = gc.filter(~has_id).select(
        pl.col(FILE),
        pl.col(LINE).alias("line_no"),
        pl.lit("missing_id").alias("reason_code"),
        pl.lit("group_chat.chat_id is missing").alias("reason"),
        pl.lit("").alias("preview_masked"),
        pl.lit(1, pl.Int64).alias("records"),
    )
    gc = gc.filter(has_id)
    groups = gc.select(
        FILE, pl.col("chat_id").alias("group_key"), pl.col("name").alias("group_name"), "owner", "create_time", LINE
    )
    scenes = {int(k): v for k, v in m.values.get("join_scene", {}).items()}
    mem = (
        gc.select(FILE, pl.col("chat_id").alias("group_key"), LINE, "member_list")
        .explode("member_list")
        .unnest("member_list")
        .filter(pl.col("userid").is_not_null() & (pl.col("userid") != ""))
    )
    inv = pl.col("invitor").struct.field("userid")
    nick = pl.col("group_nickname")
    mem = mem.select(
        FILE,
        "group_key",
        "userid",
        pl.col("type").fill_null(0),
        "unionid",
        "join_time",
        pl.when(inv.is_not_null() & (inv != ""))
        .then(
            pl.col("join_scene")
            .fill_null(0)
            .replace_strict(scenes, default="organic", return_dtype=pl.String)
        )
        .otherwise(pl.lit("organic"))
        .alias("scene"),
        inv.alias("invitor"),
        pl.col("remark_mobiles").list.eval(pl.element().filter(pl.element() != "")).list.first().alias("mobile"),
        LINE,
        pl.when(nick.is_not_null() & (nick != "")).then(nick).otherwise(pl.col("name")).alias("nickname"),
        pl.col("name").alias("member_name"),
    )
    adm = (
        gc.select(pl.col("chat_id").alias("group_key"), "admin_list")
        .explode("admin_list")
        .select("group_key", pl.col("admin_list").struct.field("userid").alias("userid"))
        .filter(pl.col("userid").is_not_null() & (pl.col("userid") != ""))
    )
    return (
        len(lines),
        q.cast(QUARANTINE_SCHEMA),
        groups.cast(_WD_GROUPS),
        mem.cast(_WD_MEMBERS),
        adm.cast(_WD_ADMINS),
    )


def _wecom_detail(ctx: BatchContext, m: Mapping) -> tuple[Parsed, dict[str, FileUnreadable]]:
    qs, gs, mems, adms, rows_in, failed = [], [], [], [], {}, {}
    for f in ctx.files:
        parts = _wecom_detail_fast(f, m)
        if parts is None:
            try:
                n, q, g, mem, adm = _wecom_detail_one(f, m)
            except FileUnreadable as exc:
                failed[f.sha] = exc
                continue
            parts = (
                n,
                pl.DataFrame(q, schema=QUARANTINE_SCHEMA, orient="row"),
                pl.DataFrame(g, schema=_WD_GROUPS, orient="row"),
                pl.DataFrame(mem, schema=_WD_MEMBERS, orient="row"),
                pl.DataFrame(adm, schema=_WD_ADMINS, orient="row"),
            )
        n, q, g, mem, adm = parts
        rows_in[f.sha] = n
        qs.append(q)
        gs.append(g)
        mems.append(mem)
        adms.append(adm)
    q = pl.concat(qs) if qs else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    g = pl.concat(gs) if gs else pl.DataFrame(schema=_WD_GROUPS)
    mem = pl.concat(mems) if mems else pl.DataFrame(schema=_WD_MEMBERS)
    adm = (pl.concat(adms) if adms else pl.DataFrame(schema=_WD_ADMINS)).unique()

    def to_ts(c):
        return pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC")

    mem = mem.join(adm.with_columns(pl.lit(True).alias("is_admin")), on=["group_key", "userid"], how="left")
    mem = mem.with_columns(
        _wecom_key(mem["userid"], ctx).alias("member_key"),
        _wecom_key(mem["invitor"], ctx).alias("inviter_key"),
        _key(mem, "unionid", ctx, "unionid").alias("k_union"),
        _key(mem.with_columns(pl.col("mobile").str.replace_all(r"\D", "")), "mobile", ctx, "phone").alias(
            "k_mobile"
        ),
        _key(
            mem.with_columns(pl.col("userid").str.extract(f"^({PHONE_RE})$", 1).alias("_up")),
            "_up",
            ctx,
            "phone",
        ).alias("k_uphone"),
        to_ts("join_time").alias("join_at"),
        (
            pl.col("is_admin").fill_null(False)
            | ((pl.col("type") == 1) & pl.col("userid").str.starts_with("staff_"))
        ).alias("is_staff"),
        mask_name_expr(pl.col("nickname")).alias("name_m"),
        mask_phone_expr(pl.col("mobile")).alias("phone_m"),
    )
    g = g.with_columns(
        _wecom_key(g["owner"], ctx).alias("owner_key"), to_ts("create_time").alias("created_at")
    )
    snap = _bounds(mem.with_columns(pl.col("join_at").alias("t")), ["t"]).select(
        FILE, pl.col("hi").alias("snapshot_at")
    )
    groups_out = g.join(snap, on=FILE, how="left").select(
        "group_key",
        pl.lit("wecom").alias("source"),
        "group_name",
        "owner_key",
        pl.col("created_at").cast(UTC_DT),
        pl.coalesce([pl.col("snapshot_at"), pl.col("created_at")]).cast(UTC_DT).alias("snapshot_at"),
        pl.lit(ctx.fmt).alias("source_format"),
        pl.col(FILE).alias(SHA),
    )
    groups_out = _mask_group_names(groups_out, mem, ["nickname", "member_name"])
    wm = mem.join(snap, on=FILE, how="left").select(
        "group_key",
        "member_key",
        pl.col("type").alias("member_type"),
        pl.col("join_at").cast(UTC_DT),
        "scene",
        "inviter_key",
        "is_staff",
        pl.col("snapshot_at").cast(UTC_DT),
        pl.col(FILE).alias(SHA),
        pl.col(LINE).alias("source_line"),
    )
    ext, internal = mem.filter(pl.col("type") == 2), mem.filter(pl.col("type") != 2)
    tables = {
        "groups": groups_out,
        "wecom_members": wm,
        "id_keys": _concat(
            [
                _keys_frame(ctx, ext, "member_key", "wecom_external", "join_at", "name_m"),
                _keys_frame(ctx, ext, "k_union", "unionid", "join_at"),
                _keys_frame(ctx, ext, "k_mobile", "phone", "join_at", None, "phone_m"),
                _keys_frame(
                    ctx, internal, "member_key", "wecom_internal", "join_at", "name_m", is_staff="is_staff"
                ),
                _keys_frame(ctx, internal, "k_uphone", "phone", "join_at"),
            ]
        ),
        "id_edges": _concat(
            [
                _edges(ctx, ext, "member_key", "k_union"),
                _edges(ctx, ext, "member_key", "k_mobile"),
                _edges(ctx, ext, "k_union", "k_mobile"),
                _edges(ctx, internal, "member_key", "k_uphone"),
            ]
        ),
    }
    return Parsed(tables=tables, quarantine=q, rows_in=rows_in, bounds=_bounds(mem, ["join_at"])), failed


# ---- entry point -----------------------------------------------------------------------------------------------


WECOM_ARCHIVE_FIELDS = {  # column → JSON path, parsed in the scan (one JSON parse per line)
    "msgid": "$.msgid",
    "action": "$.action",
    "sender": "$.from",
    "roomid": "$.roomid",
    "msgtime": "$.msgtime",
    "msgtype": "$.msgtype",
    "content": "$.text.content",
    "pre_msgid": "$.revoke.pre_msgid",
}


def read_raw(ctx: BatchContext, m: Mapping) -> RawRead:
    if m.kind == "jsonl":
        return read_jsonl_batch(ctx.files, WECOM_ARCHIVE_FIELDS if m.format == "wecom_archive" else None)
    if all(f.encoding == "xlsx" for f in ctx.files):
        reads = [read_xlsx(f) for f in ctx.files]
        return RawRead(
            pl.concat([r.frame for r in reads], how="diagonal_relaxed"),
            reads[0].header,
            pl.concat([r.rejects for r in reads]),
            [f.sha for f in ctx.files],
        )
    return read_csv_batch(ctx.files, keep=lambda names: mapping_columns(m, names))


def parse_batch(ctx: BatchContext) -> tuple[Parsed, dict[str, FileUnreadable]]:
    """Read, check and transform a batch of same-format, same-header files.

    Returns the parsed batch and the files that could not be read at all (file-level problems). Raises
    FileUnreadable when the problem concerns every file of the batch (e.g. the shared header lacks a column).
    """
    m = mapping(ctx.fmt)
    if m.target == "group_detail":
        return _wecom_detail(ctx, m)
    raw = read_raw(ctx, m)
    if m.kind == "jsonl":
        return _wecom_archive(ctx, m, raw), {}
    rows_in = raw.rows_in()
    failed = {
        sha: FileUnreadable("empty_file", "only a header, no data rows; export it again with data")
        for sha, n in rows_in.items()
        if n == 0
    }
    typed, q = apply_mapping(raw, m, ctx.tz, ", ".join(f.name for f in ctx.files[:3]))
    if ctx.fmt == "wechatmsg_chat":
        tables, q2 = _wechatmsg(ctx, m, typed, raw)
    elif ctx.fmt == "pywxdump_chat":
        tables, q2 = _pywxdump(ctx, m, typed, raw)
    else:
        q2 = None
        if m.target == "orders" and not m.line_items:
            typed = _dup_rule(
                typed, ["source_order_no"], "order number repeated in the file; the first row is kept"
            )
            typed, q2 = split_quarantine(typed, raw)
        fn = {
            "orders": _order_frames,
            "order_lines": _order_line_frames,
            "customers": _customer_frames,
            "invites": _invite_frames,
        }[m.target]
        tables = fn(ctx, m, typed)
    bounds = tables.pop("_bounds", None)
    rq = reader_rejects_to_quarantine(raw)
    allq = _concat([rq, q, q2])
    return Parsed(
        tables={k: v for k, v in tables.items() if v is not None and v.height},
        quarantine=allq.select(list(QUARANTINE_SCHEMA)) if allq.height else empty_quarantine(),
        rows_in=rows_in,
        bounds=bounds if bounds is not None else pl.DataFrame(schema=BOUNDS_SCHEMA),
    ), failed
