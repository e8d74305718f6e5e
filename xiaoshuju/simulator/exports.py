"""Writers of the real export formats (有赞 CSVs, invite records, 留痕 CSV, WeCom archive + group detail)."""

from __future__ import annotations

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
        lines = [head] + body.split("\r\n")[:-1]
        dfx.break_lines(lines, rows, kinds)
        text = "\r\n".join(lines) + "\r\n"
        data = text.encode(encoding)
        for r, k in zip(rows, kinds, strict=True):
            self.defects.append({"file": rel, "line": int(r) + 2, "kind": str(k), "expected_reason_code": str(k),
                                 "note": ""})
        self.put(rel, data, fmt, df.height)
        return data


def _col(values, n: int) -> pl.Series:
    if isinstance(values, str):
        return pl.Series([values] * n, dtype=pl.String)
    return nm.to_pl(values)


def frame(header: list[str], cols: dict[int, object], n: int) -> pl.DataFrame:
    """A string frame with positional columns c0..c{len-1} (duplicate header names are fine)."""
    return pl.DataFrame({f"c{i}": _col(cols.get(i, ""), n) for i in range(len(header))})


# ---------------------------------------------------------------------------------------------------------------
class OrderBook:
    """Per-order derived fields computed once for the whole run (lines, numbers, masks)."""

    def __init__(self, w: World, shop_name: str):
        rng = stream(w.seed, 40)
        m = len(w.o_person)
        self.m = m
        self.shop_name = shop_name
        created_local = F.local_str(w.o_created_at).str.replace_all(r"[- :]", "")
        tail = ((np.arange(m, dtype=np.int64) * 7919 + w.seed * 104_729) % 1_000_000_000).astype(str)
        self.order_no = pl.select(
            pl.concat_str([pl.lit("E"), created_local, pl.Series(nm.zfill(tail, 9).astype(str))])).to_series()
        self.freight = np.where((w.o_receivable >= 3000) & (rng.random(m) < 0.2), 800, 0)
        self.n_lines = rng.choice([1, 2, 3], size=m, p=[0.6, 0.3, 0.1])
        self.masked = rng.random(m) < w.sc.masked_phone_share
        self.delivery = nm.pick(rng, ["快递发货", "快递发货", "同城配送", "到店自提"], m)
        self.addr = rng.integers(0, len(nm.PROVINCES), m)
        self.street = nm.join(nm.pick(rng, nm.STREETS, m), rng.integers(1, 300, m).astype(str), "号")
        self.note = np.where(rng.random(m) < 0.03, nm.join("\t", rng.integers(10**11, 10**12, m).astype(str)),
                             np.where(rng.random(m) < 0.05, "麻烦放门口", "——"))
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
        self.l_product = nm.pick(rng, nm.PRODUCTS, L)
        self.items_total = np.bincount(self.l_order, weights=self.l_subtotal, minlength=m).astype(np.int64)
        self.discount = self.items_total + self.freight - w.o_receivable
        self.l_start = first
        ln = pl.DataFrame({"o": self.l_order, "p": self.l_product.astype(str), "q": self.l_qty})
        gn = ln.group_by("o", maintain_order=True).agg(
            pl.format("{}({}件)", "p", "q").str.join(";").alias("s")).sort("o")["s"]
        self.goods_names = pl.select(pl.when(pl.Series(self.freight > 0)).then(gn + ";运费(1)").otherwise(gn)).to_series()
        # paid-order index by person for customer/invite stats
        paid = np.nonzero(w.o_is_paid)[0]
        key = (w.o_person[paid].astype(np.int64) << 32) | (w.o_paid_at[paid] - w.t0)
        o = np.argsort(key, kind="stable")
        self.paid_key = key[o]
        self.paid_idx = paid[o]
        self.paid_cum_amt = np.r_[0, np.cumsum(w.o_amount[self.paid_idx])]
        self.paid_cum_ref = np.r_[0, np.cumsum(w.o_refund[self.paid_idx])]


def _status(w: World, ob: OrderBook, idx: np.ndarray, E: int):
    paid = w.o_is_paid[idx]
    refunded = (w.o_refund_at[idx] != NONE) & (w.o_refund_at[idx] < E)
    full = refunded & (w.o_refund[idx] == w.o_amount[idx])
    done_t = w.o_paid_at[idx] + 7 * DAY
    done = paid & (done_t < E) & ~full
    status = np.where(~paid | full, "交易关闭", np.where(done, "交易成功",
                      np.where(w.o_paid_at[idx] > E - DAY, "待发货", "已发货")))
    rstatus = np.where(full, "退款成功（全额退款）", np.where(refunded, "退款成功（部分退款）", ""))
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
    s_ = np.clip(seller, 0, None)
    seller_name = np.where(has_seller, w.nick[s_], "")
    seller_phone = np.where(has_seller, nm.join("\t", w.phone[s_]), "")
    ph = w.phone[p]
    buyer_phone = np.where(ob.masked[idx], nm.join("\t", np.array([x[:3] + "****" + x[-4:] for x in ph], dtype=object)),
                           nm.join("\t", ph))
    paid = w.o_is_paid[idx]
    prov = np.array(nm.PROVINCES, dtype=object)[ob.addr[idx]]
    goods_names = ob.goods_names.gather(idx)
    nick = w.nick_at(p, w.o_created_at[idx])
    serial = np.where(paid, nm.join("\t4200", nm.zfill((idx.astype(np.int64) * 7 + 1), 24)), "")
    solitaire = w.o_solitaire[idx]
    cols = {
        0: ob.order_no.gather(idx), 1: "微商城", 2: ob.shop_name, 3: np.where(solitaire, "社群接龙订单", "普通订单"),
        4: status, 5: np.where(has_seller, "分销推广", "——"), 6: "微信小程序", 7: F.local_str(w.o_created_at[idx]),
        8: F.local_str(w.o_paid_at[idx]), 9: F.local_str(done_t), 10: np.where(paid, "微信支付", ""), 11: serial,
        12: F.yuan(ob.items_total[idx]), 13: F.yuan(ob.freight[idx]), 14: F.yuan(ob.discount[idx]),
        15: F.yuan(w.o_receivable[idx]), 16: F.yuan(w.o_amount[idx]), 17: "0", 18: F.yuan(w.o_amount[idx]), 19: "0",
        20: np.where(ob.discount[idx] > 0, "限时折扣", ""), 22: goods_names, 23: ob.n_lines[idx],
        24: ob.delivery[idx], 26: prov[:, 0], 27: prov[:, 1], 28: prov[:, 2], 29: ob.street[idx], 30: w.name[p],
        31: nm.join("\t", w.phone[p]), 32: ob.note[idx], 33: "——", 34: nick, 35: np.where(ob.member[idx], "是", "否"),
        36: buyer_phone, 39: seller_name, 42: rstatus, 43: np.where(refunded, F.yuan(w.o_refund[idx]).to_numpy(), "0"),
        44: "——", 48: np.where(solitaire, "是", "否"), 50: seller_name, 51: seller_phone,
        52: np.where(has_seller, ob.shop_name, ""), 56: np.where(has_seller, "比例", ""),
        57: np.where(has_seller, F.yuan(w.o_amount[idx] // 10).to_numpy(), ""),
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
    pos = np.concatenate([np.arange(ob.l_start[i], ob.l_start[i] + ob.n_lines[i]) for i in idx]) if len(idx) else \
        np.zeros(0, np.int64)
    o = ob.l_order[pos]
    row_of = np.repeat(np.arange(len(idx)), ob.n_lines[idx])
    paid = w.o_is_paid[o]
    actual = np.where(paid, ob.l_actual[pos], 0)
    # refund spread over lines: full → each line's amount (+ freight on the first line); partial → first line
    first_line = ob.l_no[pos] == 0
    ref = np.where(full[row_of], actual + np.where(first_line, ob.freight[o], 0),
                   np.where(refunded[row_of] & first_line, w.o_refund[o], 0))
    rstat = np.where(full[row_of], "退款成功", np.where(refunded[row_of] & first_line, "退款成功", ""))
    seller = w.o_seller[o]
    has = seller != NONE
    s_ = np.clip(seller, 0, None)
    n = len(pos)
    cols = {
        0: ob.order_no.gather(o), 1: "示例品牌", 2: status[row_of], 3: ob.l_product[pos], 4: "实物商品", 5: "食品生鲜",
        10: "微商城", 11: "默认", 16: F.yuan(ob.l_unit[pos]), 18: F.yuan(ob.l_unit[pos]), 19: ob.l_qty[pos], 20: "件",
        21: F.yuan(ob.l_subtotal[pos]), 22: F.yuan(ob.l_subtotal[pos] - ob.l_actual[pos]), 23: F.yuan(actual),
        24: "0", 26: np.where(paid, "已发货", "未发货"), 27: "快递", 32: rstat,
        33: np.where(ref > 0, F.yuan(ref).to_numpy(), "0"),
        35: np.where(has, w.nick[s_], ""), 36: np.where(has, nm.join("\t", w.phone[s_]), ""),
        41: np.where(has, "比例", ""), 42: np.where(has, F.yuan(actual // 10).to_numpy(), ""),
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
    cols = {
        0: np.where(rng.random(n) < 0.3, w.name[p], ""), 1: w.nick_at(p, np.full(n, we)), 2: w.phone[p],
        4: nm.pick(rng, ["女", "女", "男", "未知"], n), 6: np.where(rng.random(n) < 0.4, "是", "否"),
        13: cnt, 14: F.yuan(amt), 15: F.yuan(refd), 16: "0",
        17: F.yuan(np.where(cnt > 0, amt // np.maximum(cnt, 1), 0)), 18: F.local_str(last),
        19: np.where(first_seller != NONE, w.nick[np.clip(first_seller, 0, None)], ""), 21: np.where(wecom, "是", "否"),
        22: "微信", 23: np.where(via_invite[p], "邀请有礼", "购买商品"), 24: F.local_str(customer_since[p]),
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
    cols = {0: w.youzan_uid[a], 1: w.nick[a], 2: w.phone[a], 3: w.youzan_uid[p], 4: w.nick[p], 5: w.phone[p],
            6: F.local_str(w.joined_at[p]), 7: cnt, 8: nm.pick(rng, ["邀请有礼", "邀请有礼", "分享海报"], n)}
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
    content = msgs["content"].to_numpy().astype(object)
    for code, ph in PLACEHOLDER.items():
        content[kind == code] = ph
    content[(kind == 9) & (content == "")] = "回复：好的"
    content[kind == 6] = nm.join("[小程序]", content[kind == 6])
    content[kind == 7] = nm.join("[小程序]", content[kind == 7])
    # system notices
    js = event == 1
    if js.any():
        jp = s[js]
        inv = w.inviter[jp]
        by_owner = inv == own[js]
        a = np.where(inv == NONE, "", w.nick_at(np.clip(inv, 0, None), t[js]))
        content[js] = join_notice(w.scene[jp], by_owner, a, w.nick_at(jp, t[js]))
    rs = event == 2
    content[rs] = nm.join('你将"', w.nick_at(s[rs], t[rs]), '"移出了群聊')
    nick = np.where(is_owner, w.owner_nick[np.clip(s, 0, None)], w.nick_at(np.clip(s, 0, None), t))
    # recalled messages are replaced by the recall notice (the original is gone from the export)
    content[recalled] = np.where(is_owner[recalled], "你撤回了一条消息",
                                 nm.join('"', nick[recalled], '" 撤回了一条消息'))
    system = (role == ROLE_SYSTEM) | recalled
    tp = np.array([KINDS[int(c)][0] for c in range(13)])[kind]
    st = np.array([KINDS[int(c)][1] for c in range(13)])[kind]
    tt = np.where(recalled, msgs["recall_t"].to_numpy(), t)
    df = pl.DataFrame({
        "group": g, "t": tt, "seq": msgs["seq"].to_numpy(),
        "TalkerId": w.g_key[g].astype(str),
        "Type": np.where(system, 10000, tp), "SubType": np.where(system, 0, st),
        "IsSender": np.where(is_owner & ~system, 1, 0), "CreateTime": tt,
        "Status": np.where(is_owner & ~system, 2, 3), "StrContent": content.astype(str),
        "StrTime": F.local_str(tt),
        "Remark": np.where(system | is_owner, "", w.remark[np.clip(s, 0, None)]).astype(str),
        "NickName": np.where(system, "", nick).astype(str),
        "Sender": np.where(system, "", w.wxid[np.clip(s, 0, None)]).astype(str),
        "empty": (content == "") & (event == 1),
    })
    return df.filter(~pl.col("empty")).drop("empty").sort(["group", "t", "seq"])


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


def wecom_lines(w: World, msgs: pl.DataFrame) -> pl.DataFrame:
    """Messages of WeCom groups → (msgtime_ms, json line) incl. recall actions; system events dropped."""
    msgs = msgs.filter(pl.col("role") != ROLE_SYSTEM)
    g = msgs["group"].to_numpy()
    s = msgs["sender"].to_numpy()
    role = msgs["role"].to_numpy()
    kind = msgs["kind"].to_numpy()
    own = w.g_owner[g]
    sender_id = np.where(role == ROLE_MEMBER, w.ext_userid[s], w.internal_userid[s])
    staff = w.staff_idx[g % len(w.staff_idx)]
    to = np.where(role == ROLE_OWNER, w.internal_userid[staff], w.internal_userid[own])
    ms = msgs["t"].to_numpy() * 1000 + msgs["seq"].to_numpy() % 1000
    seq = msgs["seq"].to_numpy()
    msgid = pl.Series((6_530_000_000_000_000_000 + seq.astype(np.uint64)).astype(str)) + "_" + \
        pl.Series(msgs["t"].to_numpy().astype(str))
    content = msgs["content"].to_numpy().astype(object)
    content[kind == 9] = "回复：好的"
    content[kind == 10] = "[转账]"
    mtype = np.array(["text", "image", "voice", "video", "emotion", "link", "weapp", "weapp", "text", "text", "text",
                      "external_redpacket", "text"], dtype=object)[kind]
    play = (seq % 50 + 2).astype(str)
    amt = msgs["amount_fen"].to_numpy().astype(str)
    body = np.full(len(g), "", dtype=object)
    tx = mtype == "text"
    body[tx] = nm.join('"text":{"content":"', content[tx], '"}')
    sel = mtype == "image"
    body[sel] = nm.join('"image":{"md5sum":"', nm.zfill(seq[sel], 32),
                        '","filesize":', (seq[sel] % 90000 + 10000), "}")
    sel = mtype == "voice"
    body[sel] = nm.join('"voice":{"play_length":', play[sel].astype(object), "}")
    sel = mtype == "video"
    body[sel] = nm.join('"video":{"play_length":', play[sel].astype(object), "}")
    sel = mtype == "emotion"
    body[sel] = '"emotion":{"type":1,"width":240,"height":240}'
    sel = mtype == "link"
    body[sel] = nm.join('"link":{"title":"', content[sel], '","link_url":"https://example.com/a/',
                        seq[sel], '"}')
    sel = mtype == "weapp"
    body[sel] = nm.join('"weapp":{"title":"', content[sel],
                        '","description":"","username":"gh_demo@app","displayname":"示例小店"}')
    sel = mtype == "external_redpacket"
    body[sel] = nm.join('"redpacket":{"type":1,"wish":"恭喜发财，大吉大利","totalcnt":',
                        (seq[sel] % 5 + 1), ',"totalamount":', amt[sel].astype(object), "}")
    head = nm.join('{"msgid":"', msgid.to_numpy().astype(object), '","action":"send","from":"', sender_id,
                   '","tolist":["', to, '"],"roomid":"', w.g_key[g], '","msgtime":', ms,
                   ',"msgtype":"', mtype, '",')
    lines = nm.join(head, body, "}")
    rc = msgs["recalled"].to_numpy()
    rt = msgs["recall_t"].to_numpy()[rc]
    r_ms = rt * 1000 + 500
    r_id = pl.Series((7_530_000_000_000_000_000 + seq[rc].astype(np.uint64)).astype(str)) + "_" + pl.Series(rt.astype(str))
    r_lines = nm.join('{"msgid":"', r_id.to_numpy().astype(object), '","action":"recall","from":"', sender_id[rc],
                      '","tolist":["', to[rc], '"],"roomid":"', w.g_key[g[rc]], '","msgtime":',
                      r_ms, ',"msgtype":"revoke","revoke":{"pre_msgid":"',
                      msgid.to_numpy().astype(object)[rc], '"}}')
    return pl.DataFrame({"ms": np.r_[ms, r_ms].astype(np.int64), "line": np.r_[lines, r_lines].astype(str),
                         "seq": np.r_[seq, seq[rc]]}).sort(["ms", "seq"])


def write_wecom_archive(sink: Sink, w: World, lines: pl.DataFrame, batch: str, k: int) -> None:
    ws = w.t0 + k * WEEK
    if w.sc.archive_daily:
        day = (lines["ms"] // 1000 - ws) // DAY
        parts = [(d, lines.filter(day == d)) for d in range(7)]
    else:
        parts = [(0, lines)]
    for d, part in parts:
        if part.height == 0:
            continue
        date = F.local_str(np.array([ws + d * DAY])).item()[:10].replace("-", "")
        data = ("\n".join(part["line"].to_list()) + "\n").encode("utf-8")
        sink.put(f"{batch}/wecom/archive_{date}.jsonl", data, "wecom_archive", part.height)


def write_group_details(sink: Sink, w: World, groups: np.ndarray, E: int, batch: str) -> None:
    """groupchat/get snapshots (current members at E) of the given WeCom groups."""
    if len(groups) == 0:
        return
    persons = np.arange(w.n_seed, w.n - len(w.staff_idx))
    cur = persons[np.isin(w.home_group[persons], groups) & (w.joined_at[persons] != NONE) & (w.joined_at[persons] < E)
                  & ((w.removed_at[persons] == NONE) | (w.removed_at[persons] >= E))]
    inv = w.inviter[cur]
    own = w.g_owner[w.home_group[cur]]
    inv_id = np.where(inv == own, w.internal_userid[np.clip(inv, 0, None)], w.ext_userid[np.clip(inv, 0, None)])
    scene = w.scene[cur]
    jscene = np.where(scene == SC_INVITE, 1, np.where(scene == SC_LINK, 2, 3))
    invitor = np.where(inv == NONE, "", nm.join(',"invitor":{"userid":"', inv_id, '"}'))
    mob = np.where(w.remark_phone[cur], nm.join(',"remark_mobiles":["', w.phone[cur], '"]'), "")
    member_json = nm.join('{"userid":"', w.ext_userid[cur], '","type":2,"unionid":"', w.unionid[cur],
                          '","join_time":', w.joined_at[cur], ',"join_scene":',
                          jscene, invitor, ',"group_nickname":"',
                          w.nick_at(cur, np.full(len(cur), E)), '","name":"', w.nick[cur], '"', mob, "}")
    mj = pl.DataFrame({"g": w.home_group[cur], "t": w.joined_at[cur], "j": member_json.astype(str)}).sort(["g", "t"])
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
        members = ",".join(filter(None, [json.dumps(owner_m, ensure_ascii=False, separators=(",", ":")), json.dumps(staff_m, ensure_ascii=False, separators=(",", ":")),
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
