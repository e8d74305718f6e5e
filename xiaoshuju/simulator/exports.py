"""Writers of the real export formats (有赞 CSVs, invite records, 留痕 CSV, WeCom archive + group detail)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import polars as pl

from xiaoshuju.simulator import defects as dfx
from xiaoshuju.simulator import formats as F
from xiaoshuju.simulator import names as nm
from xiaoshuju.simulator.chat import KINDS, ROLE_MEMBER, ROLE_OWNER, ROLE_SYSTEM, join_notice
from xiaoshuju.simulator.world import DAY, NONE, SC_INVITE, SC_LINK, WEEK, World, stream


class Sink:
    """Collects written files and the defect records; writes nothing outside out_dir."""

    def __init__(self, out_dir: Path, write: bool, rate: float):
        self.out_dir = out_dir
        self.write = write
        self.rate = rate
        self.files: list[str] = []
        self.formats: list[str] = []
        self.rows: list[int] = []
        self.defects: list[dict] = []

    def put(self, rel: str, data: bytes, fmt: str, n_rows: int) -> None:
        self.files.append(rel)
        self.formats.append(fmt)
        self.rows.append(n_rows)
        if self.write:
            p = self.out_dir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(p)

    def csv(self, rel: str, fmt: str, header: list[str], df: pl.DataFrame, rng: np.random.Generator, *,
            encoding: str = "utf-8-sig", trailing_comma: bool = False, eligible: np.ndarray | None = None) -> bytes:
        rows, kinds = dfx.choose_row_defects(rng, fmt, df.height, self.rate, eligible)
        df = dfx.apply_cell_defects(df, fmt, rows, kinds, rng, header)
        if trailing_comma:
            df = df.with_columns(pl.lit("").alias("__trailing"))
        # empty strings are written as empty fields (polars would quote them as "")
        df = df.select(pl.when(pl.all().cast(pl.String) == "").then(None).otherwise(pl.all().cast(pl.String)).name.keep())
        body = df.write_csv(include_header=False, quote_style="necessary", line_terminator="\r\n")
        head = ",".join(header) + ("," if trailing_comma else "")
        if any(k == "broken_row" for k in kinds):
            lines = [head] + body.split("\r\n")[:-1]
            dfx.break_lines(lines, rows, kinds)
            text = "\r\n".join(lines) + "\r\n"
        else:
            text = head + "\r\n" + body
        data = text.encode(encoding)
        for r, k in zip(rows, kinds, strict=True):
            self.defects.append({"file": rel, "line": int(r) + 2, "kind": str(k), "expected_reason_code": str(k),
                                 "note": ""})
        self.put(rel, data, fmt, df.height)
        return data


def _col(values, n: int) -> pl.Series:
    if isinstance(values, str):
        if values == "":  # written as an empty field either way
            return pl.repeat(None, n, dtype=pl.String, eager=True)
        return pl.repeat(values, n, dtype=pl.String, eager=True)
    return nm.to_pl(values)


def _tphone(w: World, masked: bool = False) -> str:
    """Pools '\\t' + phone (or the masked form '\\t134****8175'), cached on the world; returns the pool name."""
    name = "tphone_masked" if masked else "tphone"
    if name not in w._pools:
        ph = w.pool("phone")
        x = ph.str.slice(0, 3) + "****" + ph.str.slice(-4) if masked else ph
        w._pools[name] = pl.select(pl.when(ph == "").then(pl.lit("")).otherwise(pl.lit("\t") + x)).to_series()
    return name


def frame(header: list[str], cols: dict[int, object], n: int) -> pl.DataFrame:
    """A string frame with positional columns c0..c{len-1} (duplicate header names are fine)."""
    arrays = {f"c{i}": nm.to_pl(v) for i, v in cols.items() if not isinstance(v, str)}
    if not arrays:
        return pl.DataFrame({f"c{i}": _col(cols.get(i, ""), n) for i in range(len(header))})
    consts = [pl.lit(cols.get(i) or None, dtype=pl.String).alias(f"c{i}") for i in range(len(header))
              if f"c{i}" not in arrays]
    return pl.DataFrame(arrays).with_columns(consts).select([f"c{i}" for i in range(len(header))])


# ---------------------------------------------------------------------------------------------------------------
DELIVERY = ["快递发货", "快递发货", "同城配送", "到店自提"]
STATUS = ["交易关闭", "交易成功", "待发货", "已发货"]
RSTATUS = ["", "退款成功（全额退款）", "退款成功（部分退款）"]


class OrderBook:
    """Per-order derived fields computed once for the whole run (lines, numbers, masks)."""

    def __init__(self, w: World, shop_name: str):
        rng = stream(w.seed, 40)
        m = len(w.o_person)
        self.m = m
        self.shop_name = shop_name
        created_local = F.local_str(w.o_created_at).str.replace_all(r"[- :]", "")
        tail = (np.arange(m, dtype=np.int64) * 7919 + w.seed * 104_729) % 1_000_000_000
        self.order_no = pl.select(
            pl.concat_str([pl.lit("E"), created_local, pl.Series(tail).cast(pl.String).str.zfill(9)])).to_series()
        self.freight = np.where((w.o_receivable >= 3000) & (rng.random(m) < 0.2), 800, 0)
        self.n_lines = rng.choice([1, 2, 3], size=m, p=[0.6, 0.3, 0.1])
        self.masked = rng.random(m) < w.sc.masked_phone_share
        # string fields are kept as small codes and rendered per weekly export (memory at L)
        self.delivery_code = rng.integers(0, len(DELIVERY), m).astype(np.int8)
        self.addr = rng.integers(0, len(nm.PROVINCES), m).astype(np.int8)
        self.street_code = rng.integers(0, len(nm.STREETS), m).astype(np.int8)
        self.street_no = rng.integers(1, 300, m).astype(np.int16)
        r_note = rng.random(m) < 0.03
        self.note_no = np.where(r_note, rng.integers(10**11, 10**12, m), 0)
        self.note_code = np.where(r_note, 2, (rng.random(m) < 0.05).astype(np.int8)).astype(np.int8)
        self.member = rng.random(m) < 0.4
        # lines
        L = int(self.n_lines.sum())
        self.l_order = np.repeat(np.arange(m), self.n_lines)
        first = np.r_[0, np.cumsum(self.n_lines)[:-1]]
        self.l_no = np.arange(L) - first[self.l_order]
        goods = np.maximum(w.o_receivable - self.freight, self.n_lines)
        wts = rng.gamma(2.0, 1.0, L)
        wsum = np.bincount(self.l_order, weights=wts, minlength=m)
        share = np.floor(goods[self.l_order] * wts / wsum[self.l_order]).astype(np.int64)
        share = np.maximum(share, 1)
        last = self.l_no == self.n_lines[self.l_order] - 1
        rest = goods - np.bincount(self.l_order, weights=np.where(last, 0, share), minlength=m).astype(np.int64)
        share = np.where(last, rest[self.l_order], share)
        self.l_actual = share
        self.l_qty = rng.choice([1, 2, 3], size=L, p=[0.7, 0.2, 0.1])
        self.l_unit = np.ceil(share / self.l_qty * rng.uniform(1.0, 1.25, L)).astype(np.int64)
        self.l_subtotal = self.l_unit * self.l_qty
        self.l_product_code = rng.integers(0, len(nm.PRODUCTS), L).astype(np.int8)
        self.items_total = np.bincount(self.l_order, weights=self.l_subtotal, minlength=m).astype(np.int64)
        self.discount = self.items_total + self.freight - w.o_receivable
        self.l_start = first
        # paid-order index by person for customer/invite stats
        paid = np.nonzero(w.o_is_paid)[0]
        key = (w.o_person[paid].astype(np.int64) << 32) | (w.o_paid_at[paid] - w.t0)
        o = np.argsort(key, kind="stable")
        self.paid_key = key[o]
        self.paid_idx = paid[o]
        self.paid_cum_amt = np.r_[0, np.cumsum(w.o_amount[self.paid_idx])]
        self.paid_cum_ref = np.r_[0, np.cumsum(w.o_refund[self.paid_idx])]


    def goods_names(self, idx: np.ndarray) -> pl.Series:
        """全部商品名称 'A(1件);B(2件)' (lines are contiguous per order, at most 3)."""
        parts = []
        for j in range(3):
            has = self.n_lines[idx] > j
            pos = np.where(has, self.l_start[idx] + j, 0)
            item = nm.cat("" if j == 0 else ";", self.products(pos), "(", self.l_qty[pos], "件)")
            parts.append(item if j == 0 else nm.where(has, item, ""))
        parts.append(nm.where(self.freight[idx] > 0, ";运费(1)", ""))
        return nm.cat(*parts)

    def products(self, pos: np.ndarray) -> pl.Series:
        return nm.choose(self.l_product_code[pos], nm.PRODUCTS)

    def street(self, idx: np.ndarray) -> pl.Series:
        return nm.cat(nm.choose(self.street_code[idx], nm.STREETS), self.street_no[idx], "号")

    def note(self, idx: np.ndarray) -> pl.Series:
        code = self.note_code[idx]
        return nm.where(code == 2, nm.cat("\t", self.note_no[idx]), nm.choose(np.minimum(code, 1), ["——", "麻烦放门口"]))


def _status(w: World, ob: OrderBook, idx: np.ndarray, E: int):
    """(status code into STATUS, refund-status code into RSTATUS, refunded, full, completion time)."""
    paid = w.o_is_paid[idx]
    refunded = (w.o_refund_at[idx] != NONE) & (w.o_refund_at[idx] < E)
    full = refunded & (w.o_refund[idx] == w.o_amount[idx])
    done_t = w.o_paid_at[idx] + 7 * DAY
    done = paid & (done_t < E) & ~full
    status = np.where(~paid | full, 0, np.where(done, 1, np.where(w.o_paid_at[idx] > E - DAY, 2, 3)))
    rstatus = np.where(full, 1, np.where(refunded, 2, 0))
    return status, rstatus, refunded, full, np.where(done, done_t, NONE)


def write_orders(sink: Sink, w: World, ob: OrderBook, k: int, batch: str, gb: bool) -> None:
    ws, we = w.t0 + k * WEEK, w.t0 + (k + 1) * WEEK
    E = we
    sel = ((w.o_created_at >= ws) & (w.o_created_at < we)) | \
          ((w.o_refund_at >= ws) & (w.o_refund_at < we) & (w.o_created_at < ws))
    idx = np.nonzero(sel)[0]
    n = len(idx)
    p = w.o_person[idx]
    status, rstatus, refunded, full, done_t = _status(w, ob, idx, E)
    seller = w.o_seller[idx]
    has_seller = seller != NONE
    seller_name = w.take("nick", seller)
    seller_phone = w.take(_tphone(w), seller)
    buyer_phone = nm.where(ob.masked[idx], w.take(_tphone(w, True), p), w.take(_tphone(w), p))
    paid = w.o_is_paid[idx]
    addr = ob.addr[idx]
    goods_names = ob.goods_names(idx)
    nick = w.take_nick_at(p, w.o_created_at[idx])
    serial = nm.where(paid, nm.cat("\t4200", pl.Series(idx.astype(np.int64) * 7 + 1).cast(pl.String).str.zfill(24)), "")
    solitaire = w.o_solitaire[idx]
    amount = w.o_amount[idx]
    Y = F.strings(yuan={"items": ob.items_total[idx], "freight": ob.freight[idx], "discount": ob.discount[idx],
                        "recv": w.o_receivable[idx], "amount": amount, "refund": w.o_refund[idx],
                        "commission": amount // 10},
                  local={"created": w.o_created_at[idx], "paid": w.o_paid_at[idx], "done": done_t})
    cols = {
        0: ob.order_no.gather(idx), 1: "微商城", 2: ob.shop_name, 3: nm.where(solitaire, "社群接龙订单", "普通订单"),
        4: nm.choose(status, STATUS), 5: nm.where(has_seller, "分销推广", "——"), 6: "微信小程序",
        7: Y["created"], 8: Y["paid"], 9: Y["done"], 10: nm.where(paid, "微信支付", ""), 11: serial,
        12: Y["items"], 13: Y["freight"], 14: Y["discount"], 15: Y["recv"], 16: Y["amount"], 17: "0",
        18: Y["amount"], 19: "0",
        20: nm.where(ob.discount[idx] > 0, "限时折扣", ""), 22: goods_names, 23: ob.n_lines[idx],
        24: nm.choose(ob.delivery_code[idx], DELIVERY), 26: nm.choose(addr, [x[0] for x in nm.PROVINCES]),
        27: nm.choose(addr, [x[1] for x in nm.PROVINCES]), 28: nm.choose(addr, [x[2] for x in nm.PROVINCES]),
        29: ob.street(idx), 30: w.take("name", p),
        31: w.take(_tphone(w), p), 32: ob.note(idx), 33: "——", 34: nick, 35: nm.where(ob.member[idx], "是", "否"),
        36: buyer_phone, 39: seller_name, 42: nm.choose(rstatus, RSTATUS),
        43: nm.where(refunded, Y["refund"], "0"),
        44: "——", 48: nm.where(solitaire, "是", "否"), 50: seller_name, 51: seller_phone,
        52: nm.where(has_seller, ob.shop_name, ""), 56: nm.where(has_seller, "比例", ""),
        57: nm.where(has_seller, Y["commission"], ""),
    }
    df = frame(F.YOUZAN_ORDERS, cols, n)
    rng = stream(w.seed, 50, k)
    enc = "gb18030" if gb else "utf-8-sig"
    data = sink.csv(f"{batch}/youzan/订单数据.csv", "youzan_orders", F.YOUZAN_ORDERS, df, rng, encoding=enc)
    _write_lines(sink, w, ob, idx, status, refunded, full, k, batch)
    if k in sink.dup_weeks:  # duplicate_file: an exact copy under another name
        rel = f"{batch}/youzan/订单数据 (1).csv"
        sink.put(rel, data, "youzan_orders", n)
        sink.defects.append({"file": rel, "line": None, "kind": "duplicate_file",
                             "expected_reason_code": "duplicate_file", "note": f"copy of {batch}/youzan/订单数据.csv"})


def _write_lines(sink, w, ob, idx, status, refunded, full, k, batch) -> None:
    nl = ob.n_lines[idx]
    row_of = np.repeat(np.arange(len(idx)), nl)
    off = np.r_[0, np.cumsum(nl)[:-1]] if len(idx) else np.zeros(0, np.int64)
    pos = (ob.l_start[idx][row_of] + np.arange(len(row_of)) - off[row_of]).astype(np.int64)
    o = ob.l_order[pos]
    paid = w.o_is_paid[o]
    actual = np.where(paid, ob.l_actual[pos], 0)
    # refund spread over lines: full → each line's amount (+ freight on the first line); partial → first line
    first_line = ob.l_no[pos] == 0
    ref = np.where(full[row_of], actual + np.where(first_line, ob.freight[o], 0),
                   np.where(refunded[row_of] & first_line, w.o_refund[o], 0))
    rstat = full[row_of] | (refunded[row_of] & first_line)
    seller = w.o_seller[o]
    has = seller != NONE
    n = len(pos)
    Y = F.strings(yuan={"unit": ob.l_unit[pos], "sub": ob.l_subtotal[pos], "disc": ob.l_subtotal[pos] - ob.l_actual[pos],
                        "actual": actual, "ref": ref, "comm": actual // 10})
    cols = {
        0: ob.order_no.gather(o), 1: "示例品牌", 2: nm.choose(status[row_of], STATUS), 3: ob.products(pos),
        4: "实物商品", 5: "食品生鲜",
        10: "微商城", 11: "默认", 16: Y["unit"], 18: Y["unit"], 19: ob.l_qty[pos], 20: "件",
        21: Y["sub"], 22: Y["disc"], 23: Y["actual"],
        24: "0", 26: nm.where(paid, "已发货", "未发货"), 27: "快递", 32: nm.where(rstat, "退款成功", ""),
        33: nm.where(ref > 0, Y["ref"], "0"),
        35: w.take("nick", seller), 36: w.take(_tphone(w), seller),
        41: nm.where(has, "比例", ""), 42: nm.where(has, Y["comm"], ""),
    }
    df = frame(F.YOUZAN_LINES, cols, n)
    sink.csv(f"{batch}/youzan/商品数据.csv", "youzan_order_lines", F.YOUZAN_LINES, df, stream(w.seed, 51, k))


def write_customers(sink: Sink, w: World, ob: OrderBook, k: int, batch: str, shop_id: str,
                    customer_since: np.ndarray, via_invite: np.ndarray) -> None:
    ws, we = w.t0 + k * WEEK, w.t0 + (k + 1) * WEEK
    p = np.nonzero((customer_since >= ws) & (customer_since < we))[0]
    p = p[np.argsort(customer_since[p], kind="stable")]
    n = len(p)
    base = p.astype(np.int64) << 32
    lo = np.searchsorted(ob.paid_key, base, "left")
    hi = np.searchsorted(ob.paid_key, base | (we - w.t0), "left")
    cnt = hi - lo
    amt = ob.paid_cum_amt[hi] - ob.paid_cum_amt[lo]
    refd = ob.paid_cum_ref[hi] - ob.paid_cum_ref[lo]
    last = np.where(cnt > 0, w.o_paid_at[ob.paid_idx[np.maximum(hi - 1, 0)]], NONE) if n else np.zeros(0, np.int64)
    first_o = ob.paid_idx[np.minimum(lo, len(ob.paid_idx) - 1)] if n and len(ob.paid_idx) else np.zeros(n, np.int64)
    first_seller = np.where(cnt > 0, w.o_seller[first_o], NONE) if n else np.zeros(0, np.int64)
    rng = stream(w.seed, 52, k)
    wecom = w.g_wecom[np.clip(w.home_group[p], 0, None)] & (w.home_group[p] != NONE)
    name_shown = rng.random(n) < 0.3
    sex = rng.integers(0, 4, n)
    member = rng.random(n) < 0.4
    Y = F.strings(yuan={"amt": amt, "refd": refd, "avg": np.where(cnt > 0, amt // np.maximum(cnt, 1), 0)},
                  local={"last": last, "since": customer_since[p]})
    cols = {
        0: w.take("name", np.where(name_shown, p, NONE)), 1: w.take_nick_at(p, np.full(n, we)), 2: w.take("phone", p),
        4: nm.choose(sex, ["女", "女", "男", "未知"]), 6: nm.where(member, "是", "否"),
        13: cnt, 14: Y["amt"], 15: Y["refd"], 16: "0", 17: Y["avg"], 18: Y["last"],
        19: w.take("nick", first_seller), 21: nm.where(wecom, "是", "否"),
        22: "微信", 23: nm.where(via_invite[p], "邀请有礼", "购买商品"), 24: Y["since"],
    }
    df = frame(F.YOUZAN_CUSTOMERS, cols, n)
    rel = f"{batch}/youzan/客户数据_{shop_id}.csv"
    data = sink.csv(rel, "youzan_customers", F.YOUZAN_CUSTOMERS, df, rng, trailing_comma=True)
    if k in sink.trunc_weeks and n >= 2:  # truncated: cut in the middle of a row
        cut = len(data) * 2 // 3
        sink.files.pop(), sink.formats.pop(), sink.rows.pop()
        sink.defects = [d for d in sink.defects if d["file"] != rel]
        sink.put(rel, data[:cut], "youzan_customers", n)
        partial = data[:cut].count(b"\n") + 1
        sink.defects.append({"file": rel, "line": None, "kind": "truncated", "expected_reason_code": "truncated",
                             "note": f"cut after byte {cut} (last line {partial} is partial)"})


def write_invites(sink: Sink, w: World, ob: OrderBook, k: int, batch: str, gb: bool) -> None:
    ws, we = w.t0 + k * WEEK, w.t0 + (k + 1) * WEEK
    p = np.nonzero(w.in_invite_records & (w.joined_at >= ws) & (w.joined_at < we))[0]
    p = p[np.argsort(w.joined_at[p], kind="stable")]
    n = len(p)
    a = w.inviter[p]
    base = p.astype(np.int64) << 32
    cnt = np.searchsorted(ob.paid_key, base | (we - w.t0), "left") - np.searchsorted(ob.paid_key, base, "left")
    rng = stream(w.seed, 53, k)
    cols = {0: w.take("youzan_uid", a), 1: w.take("nick", a), 2: w.take("phone", a), 3: w.take("youzan_uid", p),
            4: w.take("nick", p), 5: w.take("phone", p), 6: F.local_str(w.joined_at[p]), 7: cnt,
            8: nm.choose(rng.integers(0, 3, n), ["邀请有礼", "邀请有礼", "分享海报"])}
    df = frame(F.INVITES, cols, n)
    rel = f"{batch}/youzan/邀请记录.csv"
    data = sink.csv(rel, "invite_records", F.INVITES, df, rng, encoding="gb18030" if gb else "utf-8-sig")
    if k in sink.enc_weeks and n >= 1:  # bad_encoding: bytes invalid in UTF-8 and in GB18030
        mid = data.index(b"\r\n") + 2
        bad = data[:mid] + b"\xff\xfe\xff" + data[mid:]
        sink.files.pop(), sink.formats.pop(), sink.rows.pop()
        sink.defects = [d for d in sink.defects if d["file"] != rel]
        sink.put(rel, bad, "invite_records", n)
        sink.defects.append({"file": rel, "line": None, "kind": "bad_encoding", "expected_reason_code": "bad_encoding",
                             "note": "bytes FF FE FF at the start of line 2"})


# ---------------------------------------------------------------------------------------------------------------
PLACEHOLDER = {1: "[图片]", 2: "[语音]", 3: "[视频]", 4: "[动画表情]", 10: "[转账]", 11: "[红包]恭喜发财，大吉大利"}


def liuhen_rows(w: World, msgs: pl.DataFrame) -> pl.DataFrame:
    """Messages (of personal-WeChat groups) → 留痕 columns (without localId), sorted per group by time."""
    g = msgs["group"].to_numpy()
    t = msgs["t"].to_numpy()
    s = msgs["sender"].to_numpy()
    role = msgs["role"].to_numpy()
    kind = msgs["kind"].to_numpy()
    event = msgs["event"].to_numpy()
    recalled = msgs["recalled"].to_numpy()
    own = w.g_owner[g]
    is_owner = role == ROLE_OWNER
    system = (role == ROLE_SYSTEM) | recalled
    # system notices (joins: per wechat_system_messages.txt; organic joins have none), removals
    js = np.nonzero(event == 1)[0]
    notice = pl.repeat("", len(g), dtype=pl.String, eager=True)
    if len(js):
        jp = s[js]
        inv = w.inviter[jp]
        by_owner = inv == own[js]
        a = np.where(inv == NONE, "", w.nick_at(np.clip(inv, 0, None), t[js]))
        notice = notice.scatter(js, pl.Series(join_notice(w.scene[jp], by_owner, a, w.nick_at(jp, t[js])),
                                              dtype=pl.String))
    nick = nm.where(is_owner, w.take("owner_nick", s), w.take_nick_at(s, t))
    tp = np.array([KINDS[int(c)][0] for c in range(13)])[kind]
    st = np.array([KINDS[int(c)][1] for c in range(13)])[kind]
    tt = np.where(recalled, msgs["recall_t"].to_numpy(), t)
    df = pl.DataFrame({"content": msgs["content"], "kind": kind, "event": event, "recalled": recalled,
                       "is_owner": is_owner, "nick": nick, "notice": notice})
    c = pl.col("content")
    kd = pl.col("kind")
    ph = pl.lit(None, pl.String)
    for code, text in PLACEHOLDER.items():
        ph = pl.when(kd == code).then(pl.lit(text)).otherwise(ph)
    content = (
        pl.when(pl.col("recalled")).then(
            pl.when(pl.col("is_owner")).then(pl.lit("你撤回了一条消息"))
            .otherwise(pl.concat_str([pl.lit('"'), pl.col("nick"), pl.lit('" 撤回了一条消息')])))
        .when(pl.col("event") == 1).then(pl.col("notice"))
        .when(pl.col("event") == 2).then(pl.concat_str([pl.lit('你将"'), pl.col("nick"), pl.lit('"移出了群聊')]))
        .when(kd.is_in(list(PLACEHOLDER))).then(ph)
        .when((kd == 9) & (c == "")).then(pl.lit("回复：好的"))
        .when(kd.is_in([6, 7])).then(pl.lit("[小程序]") + c)
        .otherwise(c))
    content = df.select(content.alias("c")).to_series()
    out = pl.DataFrame({
        "group": g, "t": tt, "seq": msgs["seq"].to_numpy(),
        "TalkerId": w.take("g_key", g),
        "Type": np.where(system, 10000, tp), "SubType": np.where(system, 0, st),
        "IsSender": np.where(is_owner & ~system, 1, 0), "CreateTime": tt,
        "Status": np.where(is_owner & ~system, 2, 3), "StrContent": content,
        "StrTime": F.local_str(tt),
        "Remark": w.take("remark", np.where(system | is_owner, NONE, s)),
        "NickName": nm.where(system, "", nick),
        "Sender": w.take("wxid", np.where(system, NONE, s)),
    })
    keep = ~((content == "") & pl.Series(event == 1))
    return out.filter(keep).sort(["group", "t", "seq"])


def write_liuhen(sink: Sink, w: World, rows: pl.DataFrame, batch: str, k: int, local_ids: np.ndarray) -> None:
    rng = stream(w.seed, 54, k)
    for (g,), part in rows.partition_by("group", as_dict=True, maintain_order=True).items():
        n = part.height
        start = local_ids[g]
        local_ids[g] += n
        df = part.select(
            pl.Series("localId", np.arange(start + 1, start + n + 1)).cast(pl.String),
            *[pl.col(c).cast(pl.String) for c in F.LIUHEN[1:]])
        key = w.g_key[g]
        safe = "".join(ch for ch in str(w.g_name[g]) if ch not in '/\\:*?"<>|')
        rel = f"{batch}/liuhen/{safe}_{key}.csv"
        eligible = (part["Sender"] != "").to_numpy()
        sink.csv(rel, "wechatmsg_chat", F.LIUHEN, df, rng, eligible=eligible)


MTYPE = ["text", "image", "voice", "video", "emotion", "link", "weapp", "weapp", "text", "text", "text",
         "external_redpacket", "text"]


def wecom_lines(w: World, msgs: pl.DataFrame) -> pl.DataFrame:
    """Messages of WeCom groups → (msgtime_ms, json line) incl. recall actions; system events dropped."""
    msgs = msgs.filter(pl.col("role") != ROLE_SYSTEM)
    g = msgs["group"].to_numpy()
    s = msgs["sender"].to_numpy()
    role = msgs["role"].to_numpy()
    own = w.g_owner[g]
    staff = w.staff_idx[g % len(w.staff_idx)]
    df = msgs.select("t", "seq", "kind", "content", "amount_fen", "recalled", "recall_t").with_columns(
        nm.where(role == ROLE_MEMBER, w.take("ext_userid", s), w.take("internal_userid", s)).alias("from"),
        w.take("internal_userid", np.where(role == ROLE_OWNER, staff, own)).alias("to"),
        w.take("g_key", g).alias("room"),
        nm.choose(msgs["kind"].to_numpy(), MTYPE).alias("mtype"),
    )
    seq, kd, t = pl.col("seq"), pl.col("kind"), pl.col("t")
    S = lambda e: e.cast(pl.String)  # noqa: E731
    lit = pl.lit
    content = pl.col("content")
    play = S(seq % 50 + 2)
    # one body template per msgtype, each evaluated only on its own rows (the final sort restores time order)
    bodies = [
        ([0, 8, 12], [lit('"text":{"content":"'), content, lit('"}')]),
        ([9], [lit('"text":{"content":"回复：好的"}')]),
        ([10], [lit('"text":{"content":"[转账]"}')]),
        ([1], [lit('"image":{"md5sum":"'), S(seq).str.zfill(32), lit('","filesize":'), S(seq % 90000 + 10000), lit("}")]),
        ([2], [lit('"voice":{"play_length":'), play, lit("}")]),
        ([3], [lit('"video":{"play_length":'), play, lit("}")]),
        ([4], [lit('"emotion":{"type":1,"width":240,"height":240}')]),
        ([5], [lit('"link":{"title":"'), content, lit('","link_url":"https://example.com/a/'), S(seq), lit('"}')]),
        ([6, 7], [lit('"weapp":{"title":"'), content,
                  lit('","description":"","username":"gh_demo@app","displayname":"示例小店"}')]),
        ([11], [lit('"redpacket":{"type":1,"wish":"恭喜发财，大吉大利","totalcnt":'), S(seq % 5 + 1),
                lit(',"totalamount":'), S(pl.col("amount_fen")), lit("}")]),
    ]
    assert sorted(k for ks, _ in bodies for k in ks) == list(range(13))
    msgid = pl.concat_str([S(seq + 6_530_000_000_000_000_000), lit("_"), S(t)])
    ms = t * 1000 + seq % 1000
    head = [lit('{"msgid":"'), pl.col("msgid"), lit('","action":"send","from":"'), pl.col("from"),
            lit('","tolist":["'), pl.col("to"), lit('"],"roomid":"'), pl.col("room"),
            lit('","msgtime":'), S(pl.col("ms")), lit(',"msgtype":"'), pl.col("mtype"), lit('",')]
    df = df.with_columns(msgid.alias("msgid"), ms.alias("ms"))
    parts = [df.filter(kd.is_in(ks)).select(pl.col("ms"), pl.concat_str(head + body + [lit("}")]).alias("line"), seq)
             for ks, body in bodies]
    rt = pl.col("recall_t")
    r_ms = rt * 1000 + 500
    parts.append(df.filter(pl.col("recalled")).select(
        r_ms.alias("ms"),
        pl.concat_str([lit('{"msgid":"'), S(seq + 7_530_000_000_000_000_000), lit("_"), S(rt),
                       lit('","action":"recall","from":"'), pl.col("from"), lit('","tolist":["'), pl.col("to"),
                       lit('"],"roomid":"'), pl.col("room"), lit('","msgtime":'), S(r_ms),
                       lit(',"msgtype":"revoke","revoke":{"pre_msgid":"'), pl.col("msgid"), lit('"}}')]).alias("line"),
        seq))
    return pl.concat(parts).sort(["ms", "seq"])


def _lines_bytes(lines: pl.Series) -> bytes:
    buf = io.BytesIO()
    lines.to_frame("line").write_csv(buf, include_header=False, quote_style="never", line_terminator="\n")
    return buf.getvalue()


def write_wecom_archive(sink: Sink, w: World, lines: pl.DataFrame, batch: str, k: int) -> None:
    ws = w.t0 + k * WEEK
    if w.sc.archive_daily:
        day = ((lines["ms"] // 1000 - ws) // DAY).to_numpy()
        parts = [(d, lines.filter(pl.Series(day == d))) for d in range(7)]
    else:
        parts = [(0, lines)]
    rng = stream(w.seed, 55, k)
    for d, part in parts:
        if part.height == 0:
            continue
        date = F.local_str(np.array([ws + d * DAY])).item()[:10].replace("-", "")
        rel = f"{batch}/wecom/archive_{date}.jsonl"
        sink.put(rel, _lines_bytes(_archive_defects(sink, rel, part["line"], rng)), "wecom_archive", part.height)


ARCHIVE_DEFECT_SHARE = 0.1  # archive lines get defects at a tenth of the CSV row rate (a few per file)


def _archive_defects(sink: Sink, rel: str, lines: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Row-level dirt in a WeCom archive file: ``bad_json`` (a line cut in the middle, as by an interrupted
    export) and ``missing_id`` (the ``msgid`` key dropped). Recorded with the 1-based physical line."""
    rate = sink.rate * ARCHIVE_DEFECT_SHARE
    if rate <= 0 or lines.len() == 0:
        return lines
    rows = np.nonzero(rng.random(lines.len()) < rate)[0]
    if len(rows) == 0:
        return lines
    # the two kinds alternate over the brand's archive defects, so any two consecutive ones include both
    start = sum(d["note"] in ("line cut in the middle", "msgid key missing") for d in sink.defects)
    kinds = np.array(["bad_json", "missing_id"], dtype=object)[(start + np.arange(len(rows))) % 2]
    new = []
    for r, kind in zip(rows.tolist(), kinds.tolist(), strict=True):
        line = lines[r]
        if kind == "bad_json":
            new.append(line[: max(len(line) // 2, 8)])
            note = "line cut in the middle"
        else:
            new.append("{" + line[line.index('"action"'):])
            note = "msgid key missing"
        sink.defects.append({"file": rel, "line": r + 1, "kind": kind, "expected_reason_code": kind, "note": note})
    return lines.scatter(rows, pl.Series(new, dtype=pl.String))


def write_group_details(sink: Sink, w: World, groups: np.ndarray, E: int, batch: str) -> None:
    """groupchat/get snapshots (current members at E) of the given WeCom groups."""
    if len(groups) == 0:
        return
    persons = np.arange(w.n_seed, w.n - len(w.staff_idx))
    cur = persons[np.isin(w.home_group[persons], groups) & (w.joined_at[persons] != NONE) & (w.joined_at[persons] < E)
                  & ((w.removed_at[persons] == NONE) | (w.removed_at[persons] >= E))]
    inv = w.inviter[cur]
    own = w.g_owner[w.home_group[cur]]
    inv_id = nm.where(inv == own, w.take("internal_userid", inv), w.take("ext_userid", inv))
    scene = w.scene[cur]
    jscene = np.where(scene == SC_INVITE, 1, np.where(scene == SC_LINK, 2, 3))
    invitor = nm.where(inv == NONE, "", nm.cat(',"invitor":{"userid":"', inv_id, '"}'))
    mob = nm.where(w.remark_phone[cur], nm.cat(',"remark_mobiles":["', w.take("phone", cur), '"]'), "")
    member_json = nm.cat('{"userid":"', w.take("ext_userid", cur), '","type":2,"unionid":"', w.take("unionid", cur),
                         '","join_time":', w.joined_at[cur], ',"join_scene":',
                         jscene, invitor, ',"group_nickname":"',
                         w.take_nick_at(cur, np.full(len(cur), E)), '","name":"', w.take("nick", cur), '"', mob, "}")
    mj = pl.DataFrame({"g": w.home_group[cur], "t": w.joined_at[cur], "j": member_json}).sort(["g", "t"])
    by_g = dict(mj.group_by("g", maintain_order=True).agg(pl.col("j").str.join(",")).iter_rows())
    docs = []
    for g in groups:
        g = int(g)
        o = int(w.g_owner[g])
        staff = str(w.internal_userid[w.staff_idx[g % len(w.staff_idx)]])
        owner_m = {"userid": str(w.internal_userid[o]), "type": 1, "join_time": int(w.g_created[g]), "join_scene": 1,
                   "group_nickname": str(w.owner_nick[o]), "name": str(w.name[o])}
        staff_m = {"userid": staff, "type": 1, "join_time": int(w.g_created[g]) + 60, "join_scene": 1,
                   "group_nickname": "品牌小助手", "name": staff}
        head = {"chat_id": str(w.g_key[g]), "name": str(w.g_name[g]), "owner": str(w.internal_userid[o]),
                "create_time": int(w.g_created[g]), "notice": ""}
        members = ",".join(filter(None, [json.dumps(owner_m, ensure_ascii=False, separators=(",", ":")),
                                         json.dumps(staff_m, ensure_ascii=False, separators=(",", ":")),
                                         by_g.get(g, "")]))
        doc = ('{"errcode":0,"errmsg":"ok","group_chat":' + json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
               + ',"member_list":[' + members + '],"admin_list":[{"userid":"' + staff + '"}]}}')
        docs.append((g, doc))
    per = w.sc.details_per_file
    if per <= 1:
        for g, doc in docs:
            sink.put(f"{batch}/wecom/groupchat_{w.g_key[g]}.json", (doc + "\n").encode(), "wecom_group_detail", 1)
    else:
        for i in range(0, len(docs), per):
            chunk = docs[i:i + per]
            sink.put(f"{batch}/wecom/groupchat_{i // per:04d}.jsonl",
                     ("\n".join(d for _, d in chunk) + "\n").encode(), "wecom_group_detail", len(chunk))
