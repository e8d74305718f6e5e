"""Group chat of one week, vectorised: member and owner messages, replies, recalls, staff broadcasts and
join/removal system notices. Returns one polars frame; the writers turn it into 留痕 rows or WeCom JSON lines."""

from __future__ import annotations

import numpy as np
import polars as pl

from xiaoshuju.simulator import names as nm
from xiaoshuju.simulator.world import DAY, NONE, SC_INVITE, SC_LINK, SC_ORGANIC, SC_QR, WEEK, World, stream
from xiaoshuju.simulator.world import _weighted_pick_in_group as pick_in_group

ROLE_MEMBER, ROLE_OWNER, ROLE_STAFF, ROLE_SYSTEM = 0, 1, 2, 3
# kind code -> (Type, SubType, label)
KINDS = {
    0: (1, 0, "text"), 1: (3, 0, "image"), 2: (34, 0, "voice"), 3: (43, 0, "video"), 4: (47, 0, "sticker"),
    5: (49, 5, "link"), 6: (49, 33, "miniprogram"), 7: (49, 36, "miniprogram"), 8: (49, 53, "solitaire"),
    9: (49, 57, "quote"), 10: (49, 2000, "transfer"), 11: (49, 2001, "redpacket"), 12: (10000, 0, "system"),
}
MEMBER_KIND_P = np.array([0.66, 0.10, 0.02, 0.01, 0.12, 0.01, 0.005, 0.005, 0.0, 0.05, 0.005, 0.015, 0.0])
OWNER_KIND_P = np.array([0.45, 0.14, 0.01, 0.02, 0.03, 0.06, 0.06, 0.04, 0.12, 0.0, 0.0, 0.07, 0.0])
HOUR_P = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1.5, 3, 5, 6, 6, 6, 7, 5, 5, 5, 5, 6, 7, 8, 9, 8, 5, 2.5])
HOUR_P = HOUR_P / HOUR_P.sum()
STAFF_TEXT = "【品牌通知】本周新品上架，点击小程序下单，有问题找群主"
_POOLS = {"member": nm.MEMBER_TEXT, "question": nm.MEMBER_QUESTION, "owner": nm.OWNER_TEXT, "reply": nm.OWNER_REPLY,
          "staff": [STAFF_TEXT], "solitaire": nm.SOLITAIRE, "weapp": nm.WEAPP, "link": nm.LINKS}
_OFF = dict(zip(_POOLS, np.cumsum([1] + [len(v) for v in _POOLS.values()])[:-1].tolist(), strict=True))
_CONTENT = pl.Series("content", [""] + [x for v in _POOLS.values() for x in v], dtype=pl.String)
_EMOJI = pl.Series("emoji", [""] + nm.EMOJI, dtype=pl.String)


def _times(rng, lo: np.ndarray, hi: np.ndarray, t0: int) -> np.ndarray:
    """Times in [lo, hi) with a day-time profile (Shanghai hours), falling back to uniform outside the window."""
    n = len(lo)
    span = np.maximum(hi - lo, 1)
    u = lo + (rng.random(n) * span).astype(np.int64)
    local_day = (u - t0) // DAY
    t = t0 + local_day * DAY + rng.choice(24, size=n, p=HOUR_P) * 3600 + rng.integers(0, 3600, n)
    return np.where((t >= lo) & (t < hi), t, u)


def week_messages(w: World, k: int, msg_counter: np.ndarray) -> pl.DataFrame:
    """All messages of week k in every group (sorted by group, time). ``msg_counter`` is a (1,) array used to
    give every message a global sequence number (continues across weeks)."""
    rng = stream(w.seed, 30, k)
    ws, we = w.t0 + k * WEEK, w.t0 + (k + 1) * WEEK
    G = w.n_groups
    cre, zat, own = w.g_created, w.g_zombie_at, w.g_owner
    v = np.nan_to_num(w.vitality[:, k])
    alive_until = np.where(zat == NONE, we, np.minimum(zat, we))
    mem_lo = np.maximum(ws, cre + 600)
    mem_hi = np.maximum(alive_until, mem_lo)
    own_lo = mem_lo
    own_hi = np.where(cre < we - 600, we, mem_lo)

    persons = np.arange(w.n_seed, w.n - len(w.staff_idx))
    ok = (w.joined_at[persons] != NONE) & (w.joined_at[persons] < ws) & \
         ((w.removed_at[persons] == NONE) | (w.removed_at[persons] > we))
    cand = persons[ok]
    cand_g = w.home_group[cand]
    m_g = np.bincount(cand_g, minlength=G)
    frac = (mem_hi - mem_lo) / WEEK
    n_mem = rng.poisson(w.sc.msg_rate * v * m_g * frac)
    frac_o = (own_hi - own_lo) / WEEK
    zombie_now = (zat != NONE) & (zat <= ws)
    n_own = rng.poisson(np.where(zombie_now, 2.0, w.sc.owner_msgs * (0.3 + v)) * frac_o)

    # members
    mg = np.repeat(np.arange(G), n_mem)
    m_sender = pick_in_group(rng, cand_g, cand, w.chat_weight[cand], mg, G)
    m_t = _times(rng, mem_lo[mg], mem_hi[mg], w.t0)
    m_kind = rng.choice(13, size=len(mg), p=MEMBER_KIND_P)
    m_q = (m_kind == 0) & (rng.random(len(mg)) < 0.12)
    # owners
    og = np.repeat(np.arange(G), n_own)
    o_t = _times(rng, own_lo[og], own_hi[og], w.t0)
    o_kind = np.where(zombie_now[og], np.where(rng.random(len(og)) < 0.7, 0, 6), rng.choice(13, size=len(og), p=OWNER_KIND_P))
    # replies to questions: owner (60 %) or another member, log-normal delay (median 8 minutes)
    qi = np.nonzero(m_q)[0]
    answered = rng.random(len(qi)) < (0.3 + 0.6 * v[mg[qi]])
    qi = qi[answered]
    rg = mg[qi]
    delay = np.minimum(np.exp(rng.normal(np.log(480), 1.2, len(qi))), 3 * DAY).astype(np.int64) + 5
    r_t = m_t[qi] + delay
    r_by_owner = rng.random(len(qi)) < 0.6
    r_member = pick_in_group(rng, cand_g, cand, w.chat_weight[cand], rg, G)
    r_by_owner |= (r_member == NONE) | (r_member == m_sender[qi]) | (r_t >= mem_hi[rg])
    r_t = np.minimum(r_t, we - 1)
    # staff broadcast: one per WeCom group per week
    sg = np.nonzero(w.g_wecom & (cre < we - DAY))[0]
    s_t = _times(rng, np.maximum(ws, cre[sg] + 600), np.full(len(sg), we), w.t0)
    s_sender = w.staff_idx[sg % len(w.staff_idx)] if len(w.staff_idx) else np.full(len(sg), NONE)
    # joins and removals (system notices) of this week
    j = persons[(w.joined_at[persons] >= ws) & (w.joined_at[persons] < we)]
    rmv = persons[(w.removed_at[persons] >= ws) & (w.removed_at[persons] < we)]

    group = np.concatenate([mg, og, rg, sg, w.home_group[j], w.home_group[rmv]])
    t = np.concatenate([m_t, o_t, r_t, s_t, w.joined_at[j], w.removed_at[rmv]])
    sender = np.concatenate([m_sender, own[og], np.where(r_by_owner, own[rg], r_member), s_sender, j, rmv])
    role = np.concatenate([
        np.full(len(mg), ROLE_MEMBER), np.full(len(og), ROLE_OWNER),
        np.where(r_by_owner, ROLE_OWNER, ROLE_MEMBER), np.full(len(sg), ROLE_STAFF),
        np.full(len(j) + len(rmv), ROLE_SYSTEM)])
    kind = np.concatenate([m_kind, o_kind, np.zeros(len(rg) + len(sg), np.int64), np.full(len(j) + len(rmv), 12)])
    is_q = np.concatenate([m_q, np.zeros(len(og) + len(rg) + len(sg) + len(j) + len(rmv), bool)])
    # system event: 0 none, 1 join, 2 removal
    event = np.concatenate([np.zeros(len(mg) + len(og) + len(rg) + len(sg), np.int8), np.ones(len(j), np.int8),
                            np.full(len(rmv), 2, np.int8)])
    nmsg = len(t)
    recalled = (event == 0) & (rng.random(nmsg) < 0.012)
    recall_delay = rng.integers(5, 110, nmsg)
    # text content (no text stored downstream; lengths and question marks matter): codes into one pool, then
    # a single polars gather (no numpy string arrays)
    code = np.zeros(nmsg, np.int64)
    is_text = kind == 0
    mem_text = is_text & (role == ROLE_MEMBER)
    code[mem_text] = _OFF["member"] + rng.integers(0, len(nm.MEMBER_TEXT), int(mem_text.sum()))
    code[is_q] = _OFF["question"] + rng.integers(0, len(nm.MEMBER_QUESTION), int(is_q.sum()))
    reply = np.zeros(nmsg, bool)
    reply[len(mg) + len(og): len(mg) + len(og) + len(rg)] = True
    own_text = is_text & (role == ROLE_OWNER) & ~reply
    code[own_text] = _OFF["owner"] + rng.integers(0, len(nm.OWNER_TEXT), int(own_text.sum()))
    code[is_text & reply] = _OFF["reply"] + rng.integers(0, len(nm.OWNER_REPLY), int((is_text & reply).sum()))
    code[is_text & (role == ROLE_STAFF)] = _OFF["staff"]
    emo = is_text & (rng.random(nmsg) < 0.15) & ~is_q
    emo_code = np.zeros(nmsg, np.int64)
    emo_code[emo] = 1 + rng.integers(0, len(nm.EMOJI), int(emo.sum()))
    for kc, label in ((8, "solitaire"), (6, "weapp"), (7, "weapp"), (5, "link")):
        sel = kind == kc
        code[sel] = _OFF[label] + rng.integers(0, len(_POOLS[label]), int(sel.sum()))
    content = _CONTENT.gather(code) + _EMOJI.gather(emo_code)
    amount_fen = np.where(kind == 11, rng.choice([200, 520, 600, 888, 1000, 1314, 2000], size=nmsg), 0)
    amount_fen = np.where(kind == 10, rng.integers(1000, 30000, nmsg), amount_fen)
    seq = msg_counter[0] + np.arange(nmsg)
    msg_counter[0] += nmsg
    df = pl.DataFrame({
        "group": group.astype(np.int32), "t": t.astype(np.int64), "sender": sender.astype(np.int64),
        "role": role.astype(np.int8), "kind": kind.astype(np.int8), "is_question": is_q, "event": event,
        "recalled": recalled, "recall_t": (t + recall_delay).astype(np.int64), "content": content,
        "amount_fen": amount_fen.astype(np.int64), "seq": seq.astype(np.int64),
    })
    return df.sort(["group", "t", "seq"])


def join_notice(scene: np.ndarray, by_owner: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Personal-WeChat system text (exporting account = owner) for a join, per wechat_system_messages.txt."""
    q = lambda x: nm.join('"', x, '"')  # noqa: E731
    qr = scene == SC_QR
    inv = (scene == SC_INVITE) | (scene == SC_LINK)
    out = np.full(len(scene), "", dtype=object)
    out = np.where(inv & by_owner, nm.join("你邀请", q(b), "加入了群聊"), out)
    out = np.where(inv & ~by_owner, nm.join(q(a), "邀请", q(b), "加入了群聊"), out)
    out = np.where(qr & by_owner, nm.join(q(b), "通过扫描你分享的二维码加入群聊"), out)
    out = np.where(qr & ~by_owner, nm.join(q(b), "通过扫描", q(a), "分享的二维码加入群聊"), out)
    out = np.where(scene == SC_ORGANIC, "", out)
    return out
